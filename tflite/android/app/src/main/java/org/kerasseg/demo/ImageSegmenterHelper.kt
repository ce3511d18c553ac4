package org.kerasseg.demo

import android.content.Context
import android.graphics.Bitmap
import android.os.SystemClock
import com.google.mediapipe.framework.image.BitmapImageBuilder
import com.google.mediapipe.framework.image.ByteBufferExtractor
import com.google.mediapipe.tasks.core.BaseOptions
import com.google.mediapipe.tasks.core.Delegate
import com.google.mediapipe.tasks.vision.core.ImageProcessingOptions
import com.google.mediapipe.tasks.vision.core.RunningMode
import com.google.mediapipe.tasks.vision.imagesegmenter.ImageSegmenter

/**
 * Runs a kerasseg export with MediaPipe Tasks' ImageSegmenter on camera frames (live-stream mode).
 *
 * The export carries ImageSegmenter metadata (input RGB [0, 255], mean 0, std 1, and the label map), so MediaPipe
 * does the resizing to the model's input and the upsampling of the output: [Result.mask] is one class index per
 * pixel of the (rotated) frame, the argmax of the model's logits.
 */
class ImageSegmenterHelper(
    context: Context,
    modelAsset: String = "model.tflite",
    useGpu: Boolean = false,
    private val listener: (Result) -> Unit,
    private val onError: (String) -> Unit,
) {
    class Result(val mask: ByteArray, val width: Int, val height: Int, val labels: List<String>, val inferenceMs: Long)

    private val segmenter: ImageSegmenter
    private val labels: List<String>

    init {
        val baseOptions = BaseOptions.builder()
            .setModelAssetPath(modelAsset)
            .setDelegate(if (useGpu) Delegate.GPU else Delegate.CPU)
            .build()
        val options = ImageSegmenter.ImageSegmenterOptions.builder()
            .setBaseOptions(baseOptions)
            .setRunningMode(RunningMode.LIVE_STREAM)
            .setOutputCategoryMask(true)
            .setOutputConfidenceMasks(false)
            .setResultListener { result, input ->
                val category = result.categoryMask().get()
                val buffer = ByteBufferExtractor.extract(category)
                val mask = ByteArray(buffer.remaining()).also { buffer.get(it) }
                val elapsed = SystemClock.uptimeMillis() - result.timestampMs()
                listener(Result(mask, category.width, category.height, labels, elapsed))
            }
            .setErrorListener { error -> onError(error.message ?: error.toString()) }
            .build()
        segmenter = ImageSegmenter.createFromOptions(context, options)
        labels = segmenter.labels
    }

    /** Segments one RGBA frame; [rotationDegrees] turns it upright (CameraX's ImageInfo.rotationDegrees). */
    fun segment(frame: Bitmap, rotationDegrees: Int) {
        val image = BitmapImageBuilder(frame).build()
        val processing = ImageProcessingOptions.builder().setRotationDegrees(rotationDegrees).build()
        segmenter.segmentAsync(image, processing, SystemClock.uptimeMillis())
    }

    fun close() = segmenter.close()
}
