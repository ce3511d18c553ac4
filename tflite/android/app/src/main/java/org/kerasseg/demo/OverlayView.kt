package org.kerasseg.demo

import android.content.Context
import android.graphics.Bitmap
import android.graphics.Canvas
import android.graphics.Paint
import android.graphics.Rect
import android.util.AttributeSet
import android.view.View

/** Draws the coloured mask ([Palette]) over the camera preview; the colouring happens off the UI thread. */
class OverlayView(context: Context, attrs: AttributeSet? = null) : View(context, attrs) {
    private var mask: Bitmap? = null
    private val paint = Paint().apply { isFilterBitmap = false }

    fun show(overlay: Bitmap?) {
        mask = overlay
        invalidate()
    }

    override fun onDraw(canvas: Canvas) {
        super.onDraw(canvas)
        val bitmap = mask ?: return
        // The preview fills the view centre-cropped (PreviewView app:scaleType="fillCenter"), and the mask has the
        // upright frame's size and aspect ratio: scale it the same way.
        val scale = maxOf(width.toFloat() / bitmap.width, height.toFloat() / bitmap.height)
        val w = (bitmap.width * scale).toInt()
        val h = (bitmap.height * scale).toInt()
        val left = (width - w) / 2
        val top = (height - h) / 2
        canvas.drawBitmap(bitmap, null, Rect(left, top, left + w, top + h), paint)
    }
}
