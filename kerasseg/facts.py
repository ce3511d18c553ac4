"""What the papers and Keras publish about kerasseg's architectures and backbones, in one schema.

``PAPERS[name]``: a registered architecture's ``reference``, ``year``, ``backbones`` (the first is its paper's
backbone where it has one) and its published figures (``voc2012_test_miou``, ``params_*``, settings the
builder follows). ``BACKBONES[name]``: the ``keras.applications`` model a backbone is rebuilt from, its
preprocessing, its ImageNet file (name, download folder, published hash; VGG16's with its fully connected top too),
parameters, feature layers, grid.

Read by the builders (``kerasseg.models.register``, ``kerasseg.backbones``), the tests and the ``kerasseg models``
and ``kerasseg weights`` commands. It imports nothing, so that the command line can read it without loading
TensorFlow (``kerasseg_cli.facts``).
"""

_FCN = "Long, Shelhamer, Darrell, Fully Convolutional Networks for Semantic Segmentation, CVPR 2015"
_DILATED = "Yu, Koltun, Multi-Scale Context Aggregation by Dilated Convolutions, ICLR 2016"
_DEEPLABV3 = "Chen et al., Rethinking Atrous Convolution for Semantic Image Segmentation, 2017"
_ANY_BACKBONE = ("none", "vgg16", "resnet50", "resnet101", "mobilenetv2", "xception")

PAPERS = {
    "fcn32s": {"reference": _FCN, "year": 2015, "backbones": ("vgg16",), "output_stride": 32,
               "params_vgg16_fcn": "134M (Table 1)"},
    "fcn16s": {"reference": _FCN, "year": 2015, "backbones": ("vgg16",), "output_stride": 16,
               "params_vgg16_fcn": "134M (Table 1)"},
    "fcn8s": {
        "reference": _FCN,
        "year": 2015,
        "backbones": ("vgg16",),
        "output_stride": 8,
        "params_vgg16_fcn": "134M (Table 1)",
        # Layer arithmetic for 21 classes, score and upsampling layers included (shared/reference/published.md).
        "params_21_classes": 134_489_759,
        "voc2012_test_miou": 62.2,
    },
    "segnet": {
        "reference": "Badrinarayanan, Kendall, Cipolla, SegNet: A Deep Convolutional Encoder-Decoder Architecture "
        "for Image Segmentation, TPAMI 2017",
        "year": 2017,
        "backbones": ("vgg16",),
        # Table 6; the release's CamVid network has 11 classes. 117 MB on disk (float32).
        "params": 29_500_000,
        "camvid_test_miou": 60.10,  # Table 2, trained on 3.5K images (shared/reference/published.md)
        "voc2012_test_miou": 59.9,
    },
    "dilated_frontend": {"reference": _DILATED, "year": 2016, "backbones": ("vgg16",), "output_stride": 8,
                         "voc2012_test_miou": 71.3},
    "dilated_context": {
        "reference": _DILATED,
        "year": 2016,
        "backbones": ("vgg16",),
        "output_stride": 8,
        "voc2012_test_miou": 73.5,  # front end + large context module (shared/reference/published.md)
        "context_dilations": (1, 1, 2, 4, 8, 16, 1),
        "context_receptive_field": 67,  # Table 1
    },
    "deeplabv1_largefov": {
        "reference": "Chen et al., Semantic Image Segmentation with Deep Convolutional Nets and Fully Connected "
        "CRFs, ICLR 2015",
        "year": 2015,
        "backbones": ("vgg16",),
        "output_stride": 8,
        # Layer arithmetic for 21 classes (shared/reference/published.md; 20.5M in SegNet TPAMI Table 6).
        "params_21_classes": 20_505_429,
        "fc6": {"kernel": 3, "rate": 12, "channels": 1024},
    },
    "deeplabv2": {
        "reference": "Chen et al., DeepLab: ... Atrous Convolution, and Fully Connected CRFs, TPAMI 2017",
        "year": 2017,
        "backbones": ("resnet101", "resnet50", "vgg16"),
        "output_stride": 8,
        "atrous_rates": (6, 12, 18, 24),  # ASPP-L
        "scales": (0.5, 0.75, 1.0),
        "voc2012_test_miou": 79.7,  # with CRF and COCO (shared/reference/published.md)
    },
    "refinenet": {
        "reference": "Lin et al., RefineNet: Multi-Path Refinement Networks, CVPR 2017",
        "year": 2017,
        "backbones": ("resnet50", "resnet101", "mobilenetv2"),
        "voc2012_test_miou": 84.2,  # the seed article's table (RefineNet-152, with COCO)
        # Light-Weight RefineNet (Nekrasov et al., BMVC 2018), Table 1, for the released RefineNet-101
        # (chained residual pooling of 4 blocks, 3×3 classifier): parameters, and multiply-adds at 512×512.
        "params_refinenet101_released": 118e6,
        "gflops_refinenet101_released": 263,
        "crp_blocks_paper": 2,  # section 3.2 and Fig. 2(d)
        "crp_blocks_released": 4,  # released code's chained_pool_num since January 2017
    },
    "pspnet": {
        "reference": "Zhao et al., Pyramid Scene Parsing Network, CVPR 2017",
        "year": 2017,
        "backbones": ("resnet50", "resnet101", "mobilenetv2"),
        "voc2012_test_miou": 85.4,  # ResNet-101, pretrained on MS-COCO (the seed article's table)
        "voc2012_test_miou_no_coco": 82.6,
        "bins": (1, 2, 3, 6),  # section 3.2
        "aux_loss_weight": 0.4,  # the auxiliary loss weight α (section 3.3; the best in Table 3)
        "output_stride": 8,
    },
    "gcn": {
        "reference": "Peng et al., Large Kernel Matters — Improve Semantic Segmentation by GCN, CVPR 2017",
        "year": 2017,
        "backbones": ("resnet50", "resnet101", "mobilenetv2"),
        "voc2012_test_miou": 82.2,  # ResNet-152 (83.6 with COCO pretraining), the seed article's table
        "kernel_size": 15,  # the best k of the paper's Table 1
    },
    "deeplabv3": {
        "reference": _DEEPLABV3,
        "year": 2017,
        "backbones": ("resnet50", "resnet101", "mobilenetv2", "xception"),
        "voc2012_test_miou": 85.7,  # with COCO and JFT pretraining (the seed article's table)
        # MobileNetV2 paper (Sandler et al., CVPR 2018), Table 7: DeepLabv3 heads at output stride 16.
        "params_resnet101_os16": 58.16e6,
        "params_mobilenetv2_os16_no_aspp": 2.11e6,
    },
    "deeplabv3_cascaded": {
        "reference": _DEEPLABV3,
        "year": 2017,
        "backbones": ("resnet50", "resnet101"),
        "voc2012_test_miou": 85.7,
    },
    "deeplabv3plus": {
        "reference": "Chen et al., Encoder-Decoder with Atrous Separable Convolution, ECCV 2018",
        "year": 2018,
        "backbones": ("resnet50", "resnet101", "mobilenetv2", "xception"),
        "voc2012_test_miou": 89.0,  # Xception-65 with JFT pretraining, paper Table 6
    },
    "unet": {
        "reference": "Ronneberger, Fischer, Brox, U-Net, MICCAI 2015",
        "year": 2015,
        "backbones": _ANY_BACKBONE,
        # By the layer specification of Fig. 1 (2 classes, 64 base filters, valid convolutions); the paper gives
        # no parameter count itself.
        "params_fig1_2_classes": 31_030_658,
        "input_output": ((572, 572), (388, 388)),
    },
}

BACKBONES = {
    "vgg16": {
        "application": "VGG16",
        "preprocessing": "caffe",
        "weights_file": "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "weights_url_dir": "vgg16/",
        "weights_hash": "6d6bbae143d832006294945121d1f1fc",  # MD5, as keras.applications.VGG16 checks it
        # The whole classifier (fc1, fc2 and predictions too), whose fc layers FCN, Yu & Koltun and DeepLab-LargeFOV
        # turn into convolutions (include_top=True).
        "top_weights_file": "vgg16_weights_tf_dim_ordering_tf_kernels.h5",
        "top_weights_hash": "64373286793e3c8b2b4e3219cbf3544b",  # MD5, as keras.applications.VGG16 checks it
        "params_no_top": 14_714_688,  # keras.applications documentation
        "features": {
            "stride1": "block1_conv2",
            "stride2": "block1_pool",
            "stride4": "block2_pool",
            "stride8": "block3_pool",
            "stride16": "block4_pool (block4_conv3 when removed)",
            "stride32": "block5_pool (block5_conv3 when removed)",
        },
        "paper": "Simonyan & Zisserman, Very Deep Convolutional Networks for Large-Scale Image Recognition, ICLR 2015",
    },
    "resnet50": {
        "application": "ResNet50",
        "preprocessing": "caffe",
        "blocks": (3, 4, 6, 3),
        "weights_file": "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "weights_url_dir": "resnet/",
        "weights_hash": "4d473c1dd8becc155b73f8504c6f6626",  # MD5, keras.applications.resnet.WEIGHTS_HASHES
        "params_no_top": 23_587_712,  # keras.applications documentation
        "features": {
            "stride2": "conv1_relu",
            "stride4": "conv2_block3_out",
            "stride8": "conv3_block4_out",
            "stride16": "conv4_block6_out",
            "stride32": "conv5_block3_out",
        },
        "feature_grid": "top_left",  # cell j of a stride-s map on pixel s·j (7×7 padded by 3, 3×3 pool by 1)
        "paper": "He et al., Deep Residual Learning for Image Recognition, CVPR 2016",
    },
    "resnet101": {
        "application": "ResNet101",
        "preprocessing": "caffe",
        "blocks": (3, 4, 23, 3),
        "weights_file": "resnet101_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "weights_url_dir": "resnet/",
        "weights_hash": "88cf7a10940856eca736dc7b7e228a21",  # MD5, keras.applications.resnet.WEIGHTS_HASHES
        "params_no_top": 42_658_176,
        "features": {
            "stride2": "conv1_relu",
            "stride4": "conv2_block3_out",
            "stride8": "conv3_block4_out",
            "stride16": "conv4_block23_out",
            "stride32": "conv5_block3_out",
        },
        "feature_grid": "top_left",  # cell j of a stride-s map on pixel s·j (7×7 padded by 3, 3×3 pool by 1)
        "paper": "He et al., Deep Residual Learning for Image Recognition, CVPR 2016",
    },
    "mobilenetv2": {
        "application": "MobileNetV2",
        "preprocessing": "tf",
        "weights_file": "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{alpha}_224_no_top.h5",
        "weights_url_dir": "mobilenet_v2/",
        "imagenet_alphas": (0.35, 0.5, 0.75, 1.0, 1.3, 1.4),
        # SHA-256 of the files keras.applications downloads (as copied to ../shared/weights); Keras publishes
        # no hash for MobileNetV2, so the other widths are not checked.
        "weights_hash": {
            0.35: "df1c3db1d0d9193719c4c70f707c56f7021f999f825bdc57454c275cf6def19f",
            0.5: "279052de2cfa801003aa6cc25cc4d007d35dd0b76f06935268c79788b7642d05",
        },
        "params_no_top": 2_257_984,  # α = 1.0 with the last 1×1 convolution (include_last_conv=True)
        "features": {
            "stride2": "expanded_conv_project_BN",
            "stride4": "block_2_add",
            "stride8": "block_5_add",
            "stride16": "block_12_add",
            "stride32": "block_16_project_BN (out_relu with include_last_conv=True)",
        },
        # Where cell j of a stride-s map sits (kerasseg.layers.ResizeLike): on pixel s·j + s − 1, as the stride-2
        # layers' "same" padding (Conv1) and correct_pad (blocks) pad even sizes at the bottom/right only.
        "feature_grid": "bottom_right",
        "paper": "Sandler et al., MobileNetV2: Inverted Residuals and Linear Bottlenecks, CVPR 2018",
    },
    "xception": {
        "application": "Xception",
        "preprocessing": "tf",
        "weights_file": "xception_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "weights_url_dir": "xception/",
        "weights_hash": "b0042744bf5b25fce3cb969f33bebb97",  # MD5, as keras.applications.Xception checks it
        "params_no_top": 20_861_480,  # keras.applications documentation
        "keras_min_size": 71,  # keras.applications.Xception's own check; the backbone runs on smaller inputs
        "features": {
            "stride2": "block1_conv2_act",
            "stride4": "block2_add",
            "stride8": "block3_add",
            "stride16": "block12_add",
            "stride32": "block14_sepconv2_act",
        },
        # Where cell j of a stride-s map sits (kerasseg.layers.ResizeLike): on pixel s·j (module docstring).
        "feature_grid": "top_left",
        "paper": "Chollet, Xception: Deep Learning with Depthwise Separable Convolutions, CVPR 2017",
    },
}

KERAS_APPLICATIONS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"


def weights_cache_dir() -> str:
    """Where ``weights="imagenet"`` looks for Keras' files: ``$KERAS_HOME/models``, else ``~/.keras/models``."""
    import os

    return os.path.join(os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras"), "models")


def imagenet_files() -> list[dict]:
    """Every Keras ImageNet file ``weights="imagenet"`` can load: ``backbone``, ``alpha`` (MobileNetV2's width,
    else None), ``file``, ``url`` and ``hash`` (the published MD5 or SHA-256, None where none is published)."""
    rows = []
    for name, meta in BACKBONES.items():
        for alpha in meta.get("imagenet_alphas", (None,)):
            file = meta["weights_file"].format(alpha=alpha) if alpha else meta["weights_file"]
            known = meta["weights_hash"]
            file_hash = known.get(alpha) if isinstance(known, dict) else known
            url = KERAS_APPLICATIONS_URL + meta["weights_url_dir"] + file
            rows.append({"backbone": name, "alpha": alpha, "file": file, "url": url, "hash": file_hash})
        if "top_weights_file" in meta:
            file = meta["top_weights_file"]
            url = KERAS_APPLICATIONS_URL + meta["weights_url_dir"] + file
            rows.append({"backbone": name, "alpha": None, "file": file, "url": url, "hash": meta["top_weights_hash"]})
    return rows
