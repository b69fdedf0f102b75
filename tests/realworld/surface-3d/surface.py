"""A 3D surface: the plotting toolkit ships inside matplotlib, not as a package of its own."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from mpl_toolkits.mplot3d import Axes3D  # noqa: F401  (registers the projection)

x, y = np.meshgrid(np.linspace(-3, 3, 60), np.linspace(-3, 3, 60))
z = np.sin(np.hypot(x, y))

fig = plt.figure()
ax = fig.add_subplot(projection="3d")
ax.plot_surface(x, y, z, cmap="viridis")
fig.savefig("surface.png")
print("surface drawn")
