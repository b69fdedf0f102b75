"""
===================
Edges of an image
===================

A sample image from scikit-image, its Sobel edges, saved as a figure beside the script.
"""

import matplotlib.pyplot as plt
from skimage import data, filters

image = data.camera()
edges = filters.sobel(image)

fig, axes = plt.subplots(ncols=2, figsize=(8, 4))
axes[0].imshow(image, cmap="gray")
axes[1].imshow(edges, cmap="magma")
for ax in axes:
    ax.set_axis_off()
fig.tight_layout()
fig.savefig("edges.png")
print(f"edges: min {edges.min():.3f} max {edges.max():.3f}")
