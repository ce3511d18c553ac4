"""kerasseg: semantic-segmentation architectures for Keras 3, trained with model.fit, shipped as TFLite."""

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py


class BuildPy(build_py):
    """kerasseg.zoo_models is saved_models/ as package data: its scripts (make_entry.py, ...) stay out."""

    def find_package_modules(self, package, package_dir):
        return [] if package == "kerasseg.zoo_models" else super().find_package_modules(package, package_dir)


# Ranges, not pins (a library installs beside the user's own TensorFlow and Keras): each lower bound is a version
# the fast tier passed with (constraints-oldest.txt, tools/test-oldest.sh), each upper bound the next major.
# The exact set CI runs is constraints.txt.
EXTRAS = {
    # TensorFlow comes from an extra so that Colab (TensorFlow preinstalled) installs nothing over it.
    "cpu": ["tensorflow-cpu>=2.20.0,<3"],
    "gpu": ["tensorflow[and-cuda]>=2.20.0,<3"],
    "data": [
        "albumentations>=2.0.0,<3",
        "tensorflow-datasets>=4.9.10,<5",
        "importlib_resources",
    ],
    "export": [
        "tf2onnx>=1.17.0,<2",
        "onnx>=1.16.0,<2",
        "onnxruntime>=1.17.0,<2",
    ],
    "crf": ["pydensecrf2>=1.1,<2"],
    "dev": [
        "pytest>=8.0,<10",
        "pytest-xdist>=3.5,<4",
        "pytest-randomly>=3.15,<6",
        "ruff>=0.6",
        "nbclient>=0.10,<1",
        "nbformat>=5.10,<6",
        "ipykernel>=6.29,<8",
    ],
}

setup(
    name="kerasseg",
    version="0.1.0",
    description=__doc__,
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=find_packages(include=["kerasseg", "kerasseg.*", "kerasseg_cli"]) + ["kerasseg.zoo_models"],
    # The zoo's Keras models, labels and cards travel in the wheel (kerasseg.load works after pip install);
    # the exports are downloaded on demand (kerasseg.zoo.entry_file, SHA-256 from index.json).
    package_dir={"kerasseg.zoo_models": "saved_models"},
    package_data={"kerasseg.zoo_models": ["index.json", "*/model.keras", "*/labels.txt", "*/CARD.md"]},
    install_requires=[
        "keras>=3.15.0,<4",
        "numpy>=1.26,<3",
        "h5py>=3.11,<4",
        "pillow>=10,<14",
        "matplotlib>=3.8,<4",
        # The LiteRT interpreter: every export is checked against Keras, the demo included.
        "ai-edge-litert>=2.2.0,<3",
        # The runtime of the generated metadata classes (kerasseg/export/schemas); TensorFlow needs it too.
        "flatbuffers>=25.9.23",
    ],
    extras_require=EXTRAS,
    cmdclass={"build_py": BuildPy},
    entry_points={"console_scripts": ["kerasseg=kerasseg_cli:run"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "License :: OSI Approved :: Apache Software License",
        "Topic :: Scientific/Engineering :: Image Recognition",
    ],
)
