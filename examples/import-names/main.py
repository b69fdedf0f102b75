"""Classify handwritten digits with settings read from config.yaml, beside this file.

Trains a support vector classifier on scikit-learn's bundled digits data set (1797 images of
8 x 8 pixels, shipped with the package: nothing is downloaded), measures it on a held-out part
and writes to OUTPUT_FOLDER:

    metrics.yaml     accuracy, recall per digit, the confusion matrix and the settings used
    predictions.png  test images, the misclassified ones first and framed in red

The imports below are named differently from the packages that provide them (sklearn comes
from scikit-learn, yaml from PyYAML, PIL from Pillow); there is no requirements file.

Plain Python: `python main.py` (writes to ./outputs).
"""

import os
import sys
from pathlib import Path

import numpy as np
import yaml
from PIL import Image, ImageDraw
from sklearn.datasets import load_digits
from sklearn.metrics import accuracy_score, confusion_matrix, recall_score
from sklearn.model_selection import train_test_split
from sklearn.svm import SVC

CONFIG = Path(__file__).with_name("config.yaml")  # beside this file, wherever the run starts
#: the settings main.py needs, by section of config.yaml
SETTINGS = {
    "data": ("test_fraction", "random_state"),
    "model": ("C", "gamma"),
    "image": ("digits_shown", "columns", "scale"),
}


def load_config(path: Path) -> dict:
    """The settings, or an exit with one line saying what is missing from the file."""
    try:
        config = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        sys.exit(f"main.py: error: no settings file {path.name} beside main.py ({path})")
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" on line {where.line + 1}" if where else ""
        sys.exit(f"main.py: error: {path.name} is not valid YAML{line}")
    if not isinstance(config, dict):
        sys.exit(f"main.py: error: {path.name} holds no settings (sections: {', '.join(SETTINGS)})")
    missing = [
        f"{section}.{key}"
        for section, keys in SETTINGS.items()
        for key in keys
        if not isinstance(config.get(section), dict) or key not in config[section]
    ]
    if missing:
        sys.exit(f"main.py: error: {path.name} lacks the setting(s) {', '.join(missing)}")
    return config


def draw_predictions(images, truth, predicted, settings: dict) -> Image.Image:
    """A grid of digit images, errors first; each tile is framed red (wrong) or grey."""
    order = np.argsort(truth == predicted, kind="stable")[: settings["digits_shown"]]
    scale, columns = settings["scale"], settings["columns"]
    tile = 8 * scale + 6  # the image plus a 3-pixel frame on each side
    rows = -(-len(order) // columns)  # ceiling division
    sheet = Image.new("RGB", (columns * tile, rows * tile), "white")
    draw = ImageDraw.Draw(sheet)
    for slot, index in enumerate(order):
        x, y = (slot % columns) * tile, (slot // columns) * tile
        wrong = truth[index] != predicted[index]
        draw.rectangle([x, y, x + tile - 1, y + tile - 1], fill="red" if wrong else "#bbbbbb")
        # the data set's pixels run from 0 (white paper) to 16 (ink): invert to grey levels
        grey = (255 - images[index] * 255 / 16).astype(np.uint8)
        digit = Image.fromarray(grey).resize((8 * scale,) * 2, Image.Resampling.NEAREST)
        sheet.paste(digit, (x + 3, y + 3))
    return sheet


def main() -> None:
    config = load_config(CONFIG)
    digits = load_digits()
    x_train, x_test, y_train, y_test, _, images_test = train_test_split(
        digits.data,
        digits.target,
        digits.images,
        test_size=config["data"]["test_fraction"],
        random_state=config["data"]["random_state"],
        stratify=digits.target,
    )
    print(f"{len(x_train)} training and {len(x_test)} test images of 8 x 8 pixels")

    model = SVC(kernel="rbf", C=config["model"]["C"], gamma=config["model"]["gamma"])
    model.fit(x_train, y_train)
    predicted = model.predict(x_test)

    accuracy = accuracy_score(y_test, predicted)
    recall = recall_score(y_test, predicted, average=None)
    matrix = confusion_matrix(y_test, predicted)
    errors = int((predicted != y_test).sum())
    print(f"accuracy {accuracy:.4f} ({errors} of {len(y_test)} test images misclassified)")
    print("recall per digit: " + " ".join(f"{d}:{r:.2f}" for d, r in enumerate(recall)))
    for true_digit, row in enumerate(matrix):
        for guessed, n in enumerate(row):
            if guessed != true_digit and n:
                print(f"  a {true_digit} taken for a {guessed}: {n} time(s)")

    out = Path(os.environ.get("OUTPUT_FOLDER", "outputs"))
    out.mkdir(parents=True, exist_ok=True)
    metrics = {
        "accuracy": round(float(accuracy), 4),
        "misclassified": errors,
        "test_images": len(y_test),
        "recall_per_digit": {d: round(float(r), 4) for d, r in enumerate(recall)},
        "confusion_matrix": matrix.tolist(),
        "settings": config,
    }
    (out / "metrics.yaml").write_text(
        yaml.safe_dump(metrics, sort_keys=False, default_flow_style=None)
    )
    sheet = draw_predictions(images_test, y_test, predicted, config["image"])
    sheet.save(out / "predictions.png")
    print(
        f"Wrote {out / 'metrics.yaml'} and {out / 'predictions.png'} ({sheet.width}x{sheet.height})"
    )


if __name__ == "__main__":
    main()
