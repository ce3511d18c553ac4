package org.kerasseg.demo

import android.Manifest
import android.content.pm.PackageManager
import android.os.Bundle
import android.widget.CompoundButton
import androidx.activity.result.contract.ActivityResultContracts
import androidx.appcompat.app.AppCompatActivity
import androidx.camera.core.CameraSelector
import androidx.camera.core.ImageAnalysis
import androidx.camera.core.Preview
import androidx.camera.core.resolutionselector.AspectRatioStrategy
import androidx.camera.core.resolutionselector.ResolutionSelector
import androidx.camera.lifecycle.ProcessCameraProvider
import androidx.core.content.ContextCompat
import com.google.mediapipe.tasks.core.Delegate
import org.kerasseg.demo.databinding.ActivityMainBinding
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit

/**
 * Camera preview with the segmentation overlay: CameraX frames → ImageSegmenterHelper → OverlayView, a legend of
 * the classes in view, and a CPU/GPU switch. The segmenter lives on one background thread: created in onResume,
 * closed in onPause (as MediaPipe's sample does), recreated when the delegate switch changes.
 */
class MainActivity : AppCompatActivity() {
    private lateinit var binding: ActivityMainBinding
    private lateinit var segmenterThread: ExecutorService
    private lateinit var helper: ImageSegmenterHelper
    private val onDelegateSwitch = CompoundButton.OnCheckedChangeListener { _, _ -> startSegmenter() }

    /** What the user must know beyond the frame timing (a GPU fallback), kept on screen while frames come in. */
    private var notice: String? = null

    private val askCamera = registerForActivityResult(ActivityResultContracts.RequestPermission()) { granted ->
        if (granted) startCamera() else binding.status.setText(R.string.camera_denied)
    }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        binding = ActivityMainBinding.inflate(layoutInflater)
        setContentView(binding.root)
        segmenterThread = Executors.newSingleThreadExecutor()
        helper = ImageSegmenterHelper(
            this,
            listener = { result ->
                runOnUiThread {
                    binding.overlay.show(result.overlay)
                    binding.legend.text = Palette.legend(result.present, result.labels)
                    val timing = getString(R.string.timing, result.inferenceMs, helper.delegate?.name ?: "-")
                    binding.status.text = notice?.let { "$timing\n$it" } ?: timing
                }
            },
            onError = { message -> runOnUiThread { binding.status.text = message } },
        )
        binding.useGpu.setOnCheckedChangeListener(onDelegateSwitch)
        if (ContextCompat.checkSelfPermission(this, Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED) {
            startCamera()
        } else {
            askCamera.launch(Manifest.permission.CAMERA)
        }
    }

    override fun onResume() {
        super.onResume()
        startSegmenter()
    }

    override fun onPause() {
        super.onPause()
        segmenterThread.execute { helper.close() }
    }

    override fun onDestroy() {
        super.onDestroy()
        segmenterThread.shutdown()
        segmenterThread.awaitTermination(1, TimeUnit.SECONDS)
    }

    /** (Re)creates the segmenter on the delegate the switch asks for, on the thread that will use it. */
    private fun startSegmenter() {
        val wanted = if (binding.useGpu.isChecked) Delegate.GPU else Delegate.CPU
        binding.status.setText(R.string.loading)
        segmenterThread.execute {
            val problem = helper.setup(wanted)
            val running = helper.delegate
            runOnUiThread {
                binding.overlay.show(null)
                binding.legend.text = ""
                notice = problem
                binding.status.text = problem ?: getString(R.string.ready, running?.name ?: "-")
                if (running != null && running != wanted) {  // the GPU fell back: show the switch as it is
                    binding.useGpu.setOnCheckedChangeListener(null)
                    binding.useGpu.isChecked = false
                    binding.useGpu.setOnCheckedChangeListener(onDelegateSwitch)
                }
            }
        }
    }

    private fun startCamera() {
        val providerFuture = ProcessCameraProvider.getInstance(this)
        providerFuture.addListener({
            val provider = providerFuture.get()
            // The same aspect ratio for preview and analysis, so the mask lines up with what is on screen.
            val resolution = ResolutionSelector.Builder()
                .setAspectRatioStrategy(AspectRatioStrategy.RATIO_4_3_FALLBACK_AUTO_STRATEGY)
                .build()
            val preview = Preview.Builder().setResolutionSelector(resolution).build()
                .also { it.setSurfaceProvider(binding.preview.surfaceProvider) }
            val analysis = ImageAnalysis.Builder()
                .setResolutionSelector(resolution)
                .setBackpressureStrategy(ImageAnalysis.STRATEGY_KEEP_ONLY_LATEST)
                .setOutputImageFormat(ImageAnalysis.OUTPUT_IMAGE_FORMAT_RGBA_8888)
                .build()
            analysis.setAnalyzer(segmenterThread) { frame ->
                if (helper.isClosed) frame.close() else helper.segment(frame)
            }
            provider.unbindAll()
            provider.bindToLifecycle(this, CameraSelector.DEFAULT_BACK_CAMERA, preview, analysis)
        }, ContextCompat.getMainExecutor(this))
    }
}
