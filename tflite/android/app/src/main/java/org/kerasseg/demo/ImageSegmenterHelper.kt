package org.kerasseg.demo

import android.content.Context
import android.graphics.Bitmap
import android.graphics.Matrix
import android.os.SystemClock
import androidx.camera.core.ImageProxy
import com.google.mediapipe.framework.image.BitmapImageBuilder
import com.google.mediapipe.framework.image.ByteBufferExtractor
import com.google.mediapipe.tasks.core.BaseOptions
import com.google.mediapipe.tasks.core.Delegate
import com.google.mediapipe.tasks.vision.core.RunningMode
import com.google.mediapipe.tasks.vision.imagesegmenter.ImageSegmenter
import java.io.IOException

/**
 * Runs a kerasseg export with MediaPipe Tasks' ImageSegmenter on camera frames (live-stream mode).
 *
 * The export carries ImageSegmenter metadata (input RGB [0, 255], mean 0, std 1, and the label map), so MediaPipe
 * resizes the frame to the model's input and the output back to the frame: the category mask has one class index
 * per pixel of the image it was given, the argmax of the model's logits. MediaPipe makes that mask the size of the
 * *unrotated* input and never turns it back, even when `ImageProcessingOptions.setRotationDegrees` is passed, so
 * [segment] rotates each frame upright itself before segmenting (as MediaPipe's image-segmentation sample does), and
 * the mask comes back in the orientation of the preview.
 *
 * All methods but the listeners run on the one thread that feeds frames: the GPU delegate must be used on the thread
 * that created it. [listener] and [onError] are called on MediaPipe's result thread; the colour mapping is done
 * there, never on the UI thread.
 */
class ImageSegmenterHelper(
    private val context: Context,
    private val listener: (Result) -> Unit,
    private val onError: (String) -> Unit,
    private val modelAsset: String = MODEL_ASSET,
) {
    /** One segmented frame: [overlay] is the mask in [Palette] colours, [present] the classes it contains. */
    class Result(val overlay: Bitmap, val present: List<Int>, val labels: List<String>, val inferenceMs: Long)

    private var segmenter: ImageSegmenter? = null
    private var labels: List<String> = emptyList()

    /** The delegate the current segmenter runs on, null while there is none. */
    var delegate: Delegate? = null
        private set

    val isClosed: Boolean get() = segmenter == null

    /**
     * Creates the segmenter on [wanted]; a GPU delegate that fails falls back to the CPU. Never throws: returns a
     * message for the user when the model cannot be loaded at all or the GPU fell back, null when all went well.
     */
    fun setup(wanted: Delegate): String? {
        close()
        try {
            context.assets.open(modelAsset).close()
        } catch (err: IOException) {
            return "No $modelAsset in the app's assets: copy a kerasseg export to app/src/main/assets/$modelAsset " +
                "and rebuild (see README.md)."
        }
        val gpuError = if (wanted == Delegate.GPU) tryCreate(Delegate.GPU) else null
        if (segmenter != null) return null
        val cpuError = tryCreate(Delegate.CPU) ?: return gpuError?.let { "GPU delegate failed ($it); running on the CPU." }
        return "Cannot load $modelAsset: $cpuError"
    }

    private fun tryCreate(choice: Delegate): String? = try {
        val options = ImageSegmenter.ImageSegmenterOptions.builder()
            .setBaseOptions(BaseOptions.builder().setModelAssetPath(modelAsset).setDelegate(choice).build())
            .setRunningMode(RunningMode.LIVE_STREAM)
            .setOutputCategoryMask(true)
            .setOutputConfidenceMasks(false)
            .setResultListener { result, _ ->
                val category = result.categoryMask().get()
                val buffer = ByteBufferExtractor.extract(category)
                val mask = ByteArray(buffer.remaining()).also { buffer.get(it) }
                val elapsed = SystemClock.uptimeMillis() - result.timestampMs()
                val (overlay, present) = Palette.colourize(mask, category.width, category.height)
                listener(Result(overlay, present, labels, elapsed))
            }
            .setErrorListener { error -> onError(error.message ?: error.toString()) }
            .build()
        val created = ImageSegmenter.createFromOptions(context, options)
        segmenter = created
        labels = created.labels
        delegate = choice
        null
    } catch (err: RuntimeException) {
        // MediaPipeException (a bad model, or a GPU delegate that cannot run it) and IllegalStateException alike.
        err.message ?: err.toString()
    }

    /**
     * Segments one CameraX frame (RGBA_8888) and closes it. The frame is rotated upright first, by the camera's
     * [ImageProxy.getImageInfo] rotation, because MediaPipe would return the mask unrotated.
     */
    fun segment(frame: ImageProxy) {
        val timestamp = SystemClock.uptimeMillis()
        val upright = frame.use { proxy ->
            val bitmap = proxy.toBitmap()
            val degrees = proxy.imageInfo.rotationDegrees
            if (degrees == 0) {
                bitmap
            } else {
                val turn = Matrix().apply { postRotate(degrees.toFloat()) }
                Bitmap.createBitmap(bitmap, 0, 0, bitmap.width, bitmap.height, turn, true)
            }
        }
        segmenter?.segmentAsync(BitmapImageBuilder(upright).build(), timestamp)
    }

    fun close() {
        segmenter?.close()
        segmenter = null
        delegate = null
    }

    companion object {
        const val MODEL_ASSET = "model.tflite"
    }
}
