"""Which distribution provides an import: the table that inference consults first.

An import name often differs from the name of the distribution that ships it (``cv2`` comes
from ``opencv-python``), a module may ship inside another distribution (``pkg_resources`` in
``setuptools``, ``mpl_toolkits.mplot3d`` in ``matplotlib``), and a namespace package shares
its top level with many distributions (``google.protobuf`` is ``protobuf``, ``google.auth`` is
``google-auth``). pipreqs' mapping gets many of these wrong, so this table comes first and
pipreqs' mapping is only the fallback.

Each entry of :data:`DISTRIBUTIONS` is written as the distribution ships it: its name on the
package index (with a version range where only some releases ship the import), then the import
names it installs (its top-level modules, or a dotted package below a namespace). Entries whose import name is the distribution's own name are here only
where pipreqs' mapping would say something else (``docker``, ``bcrypt``, ``ephem``...).
"""

from __future__ import annotations

__all__ = ["DISTRIBUTIONS", "NAMESPACES", "by_import"]

#: requirement (the distribution as the package index spells it) → the import names it ships
DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    # -- modules shipped inside another distribution --------------------------------------
    "matplotlib": (
        "matplotlib",
        "mpl_toolkits.mplot3d",
        "mpl_toolkits.axes_grid1",
        "mpl_toolkits.axisartist",
        "pylab",
    ),
    "setuptools": ("setuptools",),
    # setuptools 82.0.0 removed pkg_resources (81.0.0 is the last release to ship it)
    "setuptools<82": ("pkg_resources",),
    "pymongo": ("pymongo", "bson", "gridfs"),
    "pywin32": ("win32api", "win32con", "win32gui", "win32com", "pythoncom", "pywintypes"),
    "python-ldap": ("ldap", "ldapurl", "ldif"),
    "PySocks": ("socks", "sockshandler"),
    # -- namespace packages: the dotted name decides -------------------------------------
    "protobuf": ("google.protobuf",),
    "google-auth": ("google.auth", "google.oauth2"),
    "google-api-core": ("google.api_core",),
    "googleapis-common-protos": ("google.api", "google.rpc", "google.type"),
    "google-cloud-storage": ("google.cloud.storage",),
    "google-cloud-bigquery": ("google.cloud.bigquery",),
    "google-cloud-pubsub": ("google.cloud.pubsub", "google.cloud.pubsub_v1"),
    "google-generativeai": ("google.generativeai",),
    "azure-storage-blob": ("azure.storage.blob",),
    "azure-identity": ("azure.identity",),
    "azure-core": ("azure.core",),
    "azure-keyvault-secrets": ("azure.keyvault.secrets",),
    "basemap": ("mpl_toolkits.basemap",),
    "ruamel.yaml": ("ruamel.yaml",),
    "paho-mqtt": ("paho.mqtt",),
    "mysql-connector-python": ("mysql.connector",),
    # -- import name and distribution name differ ------------------------------------------
    "scikit-learn": ("sklearn",),
    "scikit-image": ("skimage",),
    "scikit-optimize": ("skopt",),
    "scikit-survival": ("sksurv",),
    "scikit-build": ("skbuild",),
    "imbalanced-learn": ("imblearn",),
    "umap-learn": ("umap",),
    "opencv-python": ("cv2",),
    "Pillow": ("PIL",),
    "PyYAML": ("yaml",),
    "beautifulsoup4": ("bs4",),
    "attrs": ("attr", "attrs"),
    "python-docx": ("docx",),
    "python-pptx": ("pptx",),
    "PyMuPDF": ("fitz", "pymupdf"),
    "pdfminer.six": ("pdfminer",),
    "biopython": ("Bio", "BioSQL"),
    "mysqlclient": ("MySQLdb",),
    "PyMySQL": ("pymysql",),
    "psycopg2-binary": ("psycopg2",),
    "python-dateutil": ("dateutil",),
    "pyserial": ("serial",),
    "pyusb": ("usb",),
    "PyOpenGL": ("OpenGL",),
    "wxPython": ("wx",),
    "PyGObject": ("gi",),
    "pycairo": ("cairo",),
    "dbus-python": ("dbus",),
    "python-xlib": ("Xlib",),
    "pycryptodome": ("Crypto",),
    "pycryptodomex": ("Cryptodome",),
    "PyNaCl": ("nacl",),
    "pyOpenSSL": ("OpenSSL",),
    "PyJWT": ("jwt",),
    "python-jose": ("jose",),
    "python-magic": ("magic",),
    "pyzmq": ("zmq",),
    "grpcio": ("grpc",),
    "google-api-python-client": ("googleapiclient", "apiclient"),
    "GDAL": ("osgeo",),
    "PyWavelets": ("pywt",),
    "Levenshtein": ("Levenshtein",),
    "dnspython": ("dns",),
    "python-dotenv": ("dotenv",),
    "python-slugify": ("slugify",),
    "python-telegram-bot": ("telegram",),
    "python-socketio": ("socketio",),
    "python-engineio": ("engineio",),
    "python-can": ("can",),
    "python-barcode": ("barcode",),
    "python-louvain": ("community",),
    "python-snappy": ("snappy",),
    "kafka-python": ("kafka",),
    "websocket-client": ("websocket",),
    "Flask-Cors": ("flask_cors",),
    "Flask-SQLAlchemy": ("flask_sqlalchemy",),
    "faiss-cpu": ("faiss",),
    "TA-Lib": ("talib",),
    "absl-py": ("absl",),
    "colour-science": ("colour",),
    "SpeechRecognition": ("speech_recognition",),
    "progressbar2": ("progressbar",),
    "newspaper3k": ("newspaper",),
    "discord.py": ("discord",),
    "GitPython": ("git",),
    "PyGithub": ("github",),
    "pyshp": ("shapefile",),
    "pypng": ("png",),
    "odfpy": ("odf",),
    "pyelftools": ("elftools",),
    "JPype1": ("jpype",),
    "hydra-core": ("hydra",),
    "factory-boy": ("factory",),
    "RPi.GPIO": ("RPi",),
    # -- the import's own name, where pipreqs' mapping names another distribution ---------
    "igraph": ("igraph",),
    "docker": ("docker",),
    "bcrypt": ("bcrypt",),
    "msgpack": ("msgpack",),
    "ephem": ("ephem",),
    "statsd": ("statsd",),
    "kazoo": ("kazoo",),
    "dpkt": ("dpkt",),
    "autobahn": ("autobahn",),
    "asyncssh": ("asyncssh",),
    "locust": ("locust",),
}

#: top levels (or dotted prefixes) shared by many distributions: the next component decides.
#: An import below one that the table does not know is taken to come from the distribution
#: named after its components (``azure.keyvault.keys`` → ``azure-keyvault-keys``), the
#: convention these namespaces follow; a bare namespace (``import google``) needs nothing.
NAMESPACES: frozenset[str] = frozenset(
    {
        "google",
        "google.cloud",
        "azure",
        "azure.ai",
        "azure.keyvault",
        "azure.mgmt",
        "azure.storage",
        "mpl_toolkits",
        "ruamel",
        "paho",
        "mysql",
        "backports",
        "jaraco",
        "zope",
        "sphinxcontrib",
    }
)

_INDEX: dict[str, str] | None = None


def by_import() -> dict[str, str]:
    """Import name (dotted below a namespace) → distribution: :data:`DISTRIBUTIONS` turned
    around, built once on first use."""
    global _INDEX
    if _INDEX is None:
        index: dict[str, str] = {}
        for dist, names in DISTRIBUTIONS.items():
            for name in names:
                if name in index:  # a data error: one import name, one distribution
                    raise ValueError(f"{name!r} is listed for {index[name]!r} and {dist!r}")
                index[name] = dist
        _INDEX = index
    return _INDEX
