package org.kerasseg.demo

import android.graphics.Bitmap
import android.graphics.Color
import android.text.SpannableStringBuilder
import android.text.Spanned
import android.text.style.ForegroundColorSpan

/**
 * The colours of the overlay and its legend, the same in the web demo (`tflite/web/app.mjs`) and the desktop
 * runner (`tflite/runner.py`): the PASCAL VOC colour map (the class index bits spread over the high bits of R, G
 * and B) at half opacity, and class 0 (the background in VOC and CamVid exports) not drawn at all.
 */
object Palette {
    /** Opaque VOC colour of each class index 0..255 (class 0 is black, but never drawn). */
    val VOC = IntArray(256) { c ->
        var r = 0
        var g = 0
        var b = 0
        var value = c
        var shift = 7
        while (value > 0) {
            r = r or ((value and 1) shl shift)
            g = g or (((value shr 1) and 1) shl shift)
            b = b or (((value shr 2) and 1) shl shift)
            value = value shr 3
            shift--
        }
        Color.rgb(r, g, b)
    }

    private val OVERLAY = IntArray(256) { c -> if (c == 0) Color.TRANSPARENT else (VOC[c] and 0x00FFFFFF) or (128 shl 24) }

    /** The mask in overlay colours, and the classes present in it (ascending). */
    fun colourize(mask: ByteArray, width: Int, height: Int): Pair<Bitmap, List<Int>> {
        val seen = BooleanArray(256)
        val pixels = IntArray(mask.size) { i ->
            val c = mask[i].toInt() and 0xFF
            seen[c] = true
            OVERLAY[c]
        }
        val bitmap = Bitmap.createBitmap(pixels, width, height, Bitmap.Config.ARGB_8888)
        return bitmap to seen.indices.filter { seen[it] }
    }

    /** One legend entry per class present: a coloured square (an empty one for class 0, which is not drawn). */
    fun legend(present: List<Int>, labels: List<String>): CharSequence {
        val text = SpannableStringBuilder()
        for (c in present) {
            if (text.isNotEmpty()) text.append("   ")
            val start = text.length
            text.append(if (c == 0) "\u25A1" else "\u25A0")
            if (c != 0) text.setSpan(ForegroundColorSpan(VOC[c]), start, text.length, Spanned.SPAN_EXCLUSIVE_EXCLUSIVE)
            text.append(" ").append(labels.getOrNull(c) ?: c.toString())
        }
        return text
    }
}
