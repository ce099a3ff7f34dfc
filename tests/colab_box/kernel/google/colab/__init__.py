"""A stand-in for Colab's ``google.colab`` in the Colab box's kernel (tests/colab_box)."""
