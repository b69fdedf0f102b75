"""The import → distribution table: a corpus of real imports, and every name on the index."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_pyrunner.environments import find_uv
from jupyter_pyrunner.importnames import DISTRIBUTIONS, NAMESPACES, by_import
from jupyter_pyrunner.inference import infer_with_origins

from .test_requirements import make

#: (an import as scripts write it, the distribution that provides it)
CORPUS: list[tuple[str, str]] = [
    # the scientific stack
    ("import numpy as np", "numpy"),
    ("import pandas as pd", "pandas"),
    ("import scipy.optimize", "scipy"),
    ("import matplotlib.pyplot as plt", "matplotlib"),
    ("import pylab", "matplotlib"),
    ("from mpl_toolkits.mplot3d import Axes3D", "matplotlib"),
    ("from mpl_toolkits.axes_grid1 import make_axes_locatable", "matplotlib"),
    ("from mpl_toolkits import axisartist", "matplotlib"),
    ("from mpl_toolkits.basemap import Basemap", "basemap"),
    ("import seaborn as sns", "seaborn"),
    ("from sklearn.cluster import KMeans", "scikit-learn"),
    ("from skimage import data, filters", "scikit-image"),
    ("import cv2", "opencv-python"),
    ("from PIL import Image", "pillow"),
    ("import imageio.v3 as iio", "imageio"),
    ("import tifffile", "tifffile"),
    ("import pywt", "pywavelets"),
    ("import sympy", "sympy"),
    ("import networkx as nx", "networkx"),
    ("import statsmodels.api as sm", "statsmodels"),
    ("import xarray", "xarray"),
    ("import h5py", "h5py"),
    ("import tables", "tables"),
    ("import netCDF4", "netcdf4"),
    ("import numba", "numba"),
    ("import dask.array as da", "dask"),
    ("import joblib", "joblib"),
    ("import tqdm", "tqdm"),
    ("import astropy.units as u", "astropy"),
    ("import umap", "umap-learn"),
    ("from imblearn.over_sampling import SMOTE", "imbalanced-learn"),
    ("from skopt import gp_minimize", "scikit-optimize"),
    ("from sksurv.linear_model import CoxPHSurvivalAnalysis", "scikit-survival"),
    ("import faiss", "faiss-cpu"),
    ("import xgboost", "xgboost"),
    ("import lightgbm", "lightgbm"),
    ("import torch", "torch"),
    ("import tensorflow as tf", "tensorflow"),
    ("from absl import flags", "absl-py"),
    ("import plotly.express as px", "plotly"),
    ("import bokeh.plotting", "bokeh"),
    ("import lmfit", "lmfit"),
    ("import emcee", "emcee"),
    ("import colour", "colour-science"),
    ("import community", "python-louvain"),
    ("import igraph", "igraph"),
    ("import Levenshtein", "levenshtein"),
    ("import talib", "ta-lib"),
    # life sciences, geo, instruments
    ("from Bio import SeqIO", "biopython"),
    ("from Bio.Seq import Seq", "biopython"),
    ("import pysam", "pysam"),
    ("import nibabel", "nibabel"),
    ("import pydicom", "pydicom"),
    ("import SimpleITK as sitk", "simpleitk"),
    ("from osgeo import gdal", "gdal"),
    ("import shapefile", "pyshp"),
    ("import geopandas", "geopandas"),
    ("import shapely.geometry", "shapely"),
    ("import pyproj", "pyproj"),
    ("import ephem", "ephem"),
    ("import serial", "pyserial"),
    ("import usb.core", "pyusb"),
    ("import can", "python-can"),
    ("import RPi.GPIO as GPIO", "rpi-gpio"),
    ("import pyvisa", "pyvisa"),
    # files and formats
    ("import yaml", "pyyaml"),
    ("from ruamel.yaml import YAML", "ruamel-yaml"),
    ("from ruamel import yaml", "ruamel-yaml"),
    ("from bs4 import BeautifulSoup", "beautifulsoup4"),
    ("import lxml.etree", "lxml"),
    ("import openpyxl", "openpyxl"),
    ("import docx", "python-docx"),
    ("from pptx import Presentation", "python-pptx"),
    ("import fitz", "pymupdf"),
    ("import pymupdf", "pymupdf"),
    ("from pdfminer.high_level import extract_text", "pdfminer-six"),
    ("import magic", "python-magic"),
    ("import png", "pypng"),
    ("from odf.opendocument import load", "odfpy"),
    ("import msgpack", "msgpack"),
    ("import snappy", "python-snappy"),
    ("from elftools.elf.elffile import ELFFile", "pyelftools"),
    # dates, config, utilities
    ("from dateutil import parser", "python-dateutil"),
    ("import attr", "attrs"),
    ("import attrs", "attrs"),
    ("from dotenv import load_dotenv", "python-dotenv"),
    ("from slugify import slugify", "python-slugify"),
    ("import progressbar", "progressbar2"),
    ("import hydra", "hydra-core"),
    ("import pkg_resources", "setuptools"),
    ("import git", "gitpython"),
    ("from github import Github", "pygithub"),
    ("import factory", "factory-boy"),
    ("import jpype", "jpype1"),
    # graphics and desktop
    ("from OpenGL.GL import glBegin", "pyopengl"),
    ("import wx", "wxpython"),
    ("import gi", "pygobject"),
    ("import cairo", "pycairo"),
    ("import dbus", "dbus-python"),
    ("from Xlib import display", "python-xlib"),
    ("import win32api", "pywin32"),
    ("import pythoncom", "pywin32"),
    ("import speech_recognition as sr", "speechrecognition"),
    ("import pygame", "pygame"),
    # crypto, network, services
    ("from Crypto.Cipher import AES", "pycryptodome"),
    ("from Cryptodome.Cipher import AES", "pycryptodomex"),
    ("import nacl.secret", "pynacl"),
    ("from OpenSSL import SSL", "pyopenssl"),
    ("import jwt", "pyjwt"),
    ("from jose import jwt", "python-jose"),
    ("import bcrypt", "bcrypt"),
    ("import zmq", "pyzmq"),
    ("import grpc", "grpcio"),
    ("import dns.resolver", "dnspython"),
    ("import socks", "pysocks"),
    ("import websocket", "websocket-client"),
    ("import socketio", "python-socketio"),
    ("from kafka import KafkaConsumer", "kafka-python"),
    ("import paho.mqtt.client as mqtt", "paho-mqtt"),
    ("import requests", "requests"),
    ("import docker", "docker"),
    ("import telegram", "python-telegram-bot"),
    ("import discord", "discord-py"),
    ("import MySQLdb", "mysqlclient"),
    ("import pymysql", "pymysql"),
    ("import mysql.connector", "mysql-connector-python"),
    ("import psycopg2", "psycopg2-binary"),
    ("from bson import ObjectId", "pymongo"),
    ("import ldap", "python-ldap"),
    ("from flask_cors import CORS", "flask-cors"),
    ("from flask_sqlalchemy import SQLAlchemy", "flask-sqlalchemy"),
    # namespace packages
    ("import google.protobuf", "protobuf"),
    ("from google.protobuf import text_format", "protobuf"),
    ("from google import protobuf", "protobuf"),
    ("import google.auth", "google-auth"),
    ("from google.oauth2 import service_account", "google-auth"),
    ("from google.cloud import storage", "google-cloud-storage"),
    ("from google.cloud import bigquery", "google-cloud-bigquery"),
    ("from googleapiclient.discovery import build", "google-api-python-client"),
    ("from azure.storage.blob import BlobServiceClient", "azure-storage-blob"),
    ("from azure.identity import DefaultAzureCredential", "azure-identity"),
    ("from azure.keyvault.secrets import SecretClient", "azure-keyvault-secrets"),
]


def _normal(name: str) -> str:
    """PEP 503's form of a requirement's distribution name (any range dropped)."""
    match = re.match(r"[A-Za-z0-9._-]+", name)
    assert match, name
    return re.sub(r"[-_.]+", "-", match.group(0)).lower()


def _statement_module(statement: str) -> str:
    return statement.split()[1]


def test_the_corpus_is_broad() -> None:
    assert len(CORPUS) >= 100
    assert len({statement for statement, _ in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize(("statement", "expected"), CORPUS, ids=[s for s, _ in CORPUS])
def test_each_import_is_inferred_as_the_distribution_that_ships_it(
    tmp_path: Path, statement: str, expected: str
) -> None:
    make(tmp_path, {"main.py": f"{statement}\n"})
    found = infer_with_origins(tmp_path)
    assert [_normal(name) for name, _ in found] == [expected], found
    (_, imports), *_ = found
    module = _statement_module(statement)
    assert any(module == i or module.startswith(f"{i}.") or i.startswith(module) for i in imports)


def test_the_whole_corpus_in_one_project_gives_each_distribution_once(tmp_path: Path) -> None:
    make(tmp_path, {"main.py": "".join(f"{statement}\n" for statement, _ in CORPUS)})
    found = infer_with_origins(tmp_path)
    assert sorted(_normal(name) for name, _ in found) == sorted({e for _, e in CORPUS})


def test_an_import_name_belongs_to_one_distribution_and_namespaces_are_not_entries() -> None:
    index = by_import()
    assert len(index) == sum(len(names) for names in DISTRIBUTIONS.values())
    assert not NAMESPACES & index.keys()
    for name in index:
        if "." in name:  # a dotted entry lives below a declared namespace
            assert name.rsplit(".", 1)[0] in NAMESPACES, name


def _unresolvable(uv: str, requirements: list[str], workdir: Path) -> list[str]:
    """The names among ``requirements`` that uv cannot find on the index. uv stops at the
    first one it cannot find, so each found is dropped and the rest asked again."""
    missing: list[str] = []
    remaining = list(requirements)
    for _ in range(len(requirements) + 1):
        listing = workdir / "names.txt"
        listing.write_text("".join(f"{r}\n" for r in remaining))
        command = [uv, "pip", "compile", "--quiet", "--no-deps", "--universal"]
        done = subprocess.run(
            [*command, "--python", sys.executable, str(listing), "-o", str(workdir / "out.txt")],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode == 0:
            return missing
        text = " ".join(done.stderr.split())  # uv wraps its message to the terminal's width
        found = re.search(r"Because (\S+) was not found in the package registry", text)
        assert found, f"uv failed for another reason:\n{done.stderr}"
        name = _normal(found.group(1))
        missing.append(name)
        remaining = [r for r in remaining if _normal(r) != name]
    raise AssertionError(f"uv kept failing: {missing}")


@pytest.mark.network
def test_every_distribution_named_exists_on_the_package_index(
    tmp_path: Path, uv_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uv = find_uv()
    assert uv, "uv is a dependency of the project"
    monkeypatch.setenv("UV_CACHE_DIR", str(uv_cache))
    names = sorted({*DISTRIBUTIONS, *(expected for _, expected in CORPUS)}, key=_normal)
    # a name that does not exist proves the check can fail
    probe = "pyrunner-no-such-distribution-xyz"
    assert _unresolvable(uv, [*names, probe], tmp_path) == [probe]
