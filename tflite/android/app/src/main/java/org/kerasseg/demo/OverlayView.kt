package org.kerasseg.demo

import android.content.Context
import android.graphics.Bitmap
import android.graphics.Canvas
import android.graphics.Color
import android.graphics.Paint
import android.graphics.Rect
import android.util.AttributeSet
import android.view.View

/** Draws the category mask over the camera preview, one PASCAL VOC colour per class, half transparent. */
class OverlayView(context: Context, attrs: AttributeSet? = null) : View(context, attrs) {
    private var mask: Bitmap? = null
    private val paint = Paint().apply { isFilterBitmap = false }

    fun show(result: ImageSegmenterHelper.Result) {
        val pixels = IntArray(result.mask.size) { i -> COLOURS[(result.mask[i].toInt() and 0xFF) % COLOURS.size] }
        mask = Bitmap.createBitmap(pixels, result.width, result.height, Bitmap.Config.ARGB_8888)
        invalidate()
    }

    override fun onDraw(canvas: Canvas) {
        super.onDraw(canvas)
        val bitmap = mask ?: return
        // The preview fills the view centre-cropped ("fillCenter"); scale the mask the same way.
        val scale = maxOf(width.toFloat() / bitmap.width, height.toFloat() / bitmap.height)
        val w = (bitmap.width * scale).toInt()
        val h = (bitmap.height * scale).toInt()
        val left = (width - w) / 2
        val top = (height - h) / 2
        canvas.drawBitmap(bitmap, null, Rect(left, top, left + w, top + h), paint)
    }

    companion object {
        /** VOC colour map (class bits spread over the high bits of R, G, B) with alpha 0.5; class 0 transparent. */
        val COLOURS = IntArray(256) { c ->
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
            if (c == 0) Color.TRANSPARENT else Color.argb(128, r, g, b)
        }
    }
}
