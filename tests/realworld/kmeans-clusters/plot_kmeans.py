"""
=============================
K-means on synthetic blobs
=============================

Clusters three blobs and writes their centres to a CSV beside the script.
"""

import numpy as np
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs

X, _ = make_blobs(n_samples=3000, centers=3, random_state=0)
model = KMeans(n_clusters=3, n_init=10, random_state=0).fit(X)
centres = model.cluster_centers_[np.argsort(model.cluster_centers_[:, 0])]
np.savetxt("centres.csv", centres, delimiter=",", header="x,y", comments="")
print("inertia", round(float(model.inertia_), 1))
