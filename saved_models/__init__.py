"""``kerasseg.zoo_models``: the zoo's entries as package data (setup.py maps this folder to that name). This file
makes an editable install (``pip install -e .``) resolve the name to this folder; a wheel leaves it out (its
``build_py`` takes no modules from here), where the folder is found inside the installed package."""
