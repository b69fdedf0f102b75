"""
=========
Line plot
=========

A damped oscillation and its envelope, saved next to the script as most gallery examples do.
"""

import matplotlib.pyplot as plt
import numpy as np

t = np.arange(0.0, 4.0, 0.01)
signal = np.exp(-t / 1.5) * np.cos(2 * np.pi * 1.5 * t)

fig, ax = plt.subplots()
ax.plot(t, signal, label="signal")
ax.plot(t, np.exp(-t / 1.5), "--", label="envelope")
ax.set(xlabel="time (s)", ylabel="amplitude", title="A damped oscillation")
ax.grid()
ax.legend()

fig.savefig("test.png")
plt.show()
