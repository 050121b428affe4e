"""Writes the notebooks from these cell lists (so they stay reviewable as code).

    python notebooks/make_notebooks.py
"""
from pathlib import Path

import nbformat as nbf

HERE = Path(__file__).resolve().parent


def notebook(cells):
    nb = nbf.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbf.v4.new_markdown_cell(c[3:]) if c.startswith("md:") else nbf.v4.new_code_cell(c) for c in cells]
    return nb


HOW_IT_WORKS = [
    "md:# How AntiNex works\n\nTrain and evaluate a detector offline on the per-packet dataset AntiNex ships "
    "(HTTP request packets recorded with `antinex-lab`: simulated users against sqlmap, wfuzz and nmap), "
    "then look at the held-out metrics, the confusion matrix and the training curves. Set `EPOCHS` "
    "to train longer.",
    "import json, os\nimport pandas as pd\nfrom IPython.display import Image, display\n"
    "from antinex.utils.data import PACKET_REQUEST, PACKET_TRAIN\n"
    "from antinex.utils.make_predictions import make_predictions\n"
    "from antinex.utils.plots import confusion_matrix_png, training_curves_png\n"
    "EPOCHS = int(os.environ.get('EPOCHS', '10'))\nOUT = os.environ.get('NOTEBOOK_OUT', '.')",
    "df = pd.read_csv(PACKET_TRAIN)\nprint(df.shape)\ndf.groupby(['tool', 'label_name']).size()",
    "md:## The request\n\nThe same JSON body the REST API takes (`POST /ml/`); `dataset` points at the CSV.",
    "request = json.loads(PACKET_REQUEST.read_text())\nrequest.update(dataset=str(PACKET_TRAIN), epochs=EPOCHS)\n"
    "{k: request[k] for k in ('label', 'ml_type', 'predict_feature', 'epochs', 'model_desc')}",
    "res = make_predictions(request)\nassert res['status'] == 0, res['err']\nm = res['data']['metrics']\n"
    "pd.Series({k: m[k] for k in ('accuracy', 'precision', 'recall', 'f1', 'roc_auc', 'false_positive_rate', "
    "'train_rows', 'test_rows')})",
    "md:## Held-out confusion matrix and training curves",
    "cm = confusion_matrix_png(m['confusion_matrix'], ['not_attack', 'attack'], os.path.join(OUT, 'confusion_matrix.png'))\n"
    "curves = training_curves_png(res['data']['history'], os.path.join(OUT, 'training_curves.png'))\n"
    "display(Image(filename=str(cm)), Image(filename=str(curves)))",
    "md:## Predictions in the original row shape",
    "pd.DataFrame(res['data']['sample_predictions'])[['payload_len', 'payload_n_sql', '_original_label_value', "
    "'label_value', 'label_name']].head()",
]

PRE_TRAINED = [
    "md:# Using pre-trained models through the running stack\n\nTrain a model by `label` through the REST API, "
    "then send new rows with the same label: the core answers from the model it keeps in memory (or its "
    "model store), without retraining. Needs a running stack (`./run-all.sh`) and a user.",
    "import os\nimport pandas as pd\nfrom antinex.client.ai_client import AIClient\n"
    "URL = os.environ.get('ANTINEX_URL', 'http://localhost:8010')\n"
    "client = AIClient(user=os.environ.get('ANTINEX_USER'), password=os.environ.get('ANTINEX_PASSWORD'), url=URL)\n"
    "DATASET = os.environ.get('DATASET', 'train.csv')  # a path inside the API's datasets directory\n"
    "EPOCHS = int(os.environ.get('EPOCHS', '10'))",
    "import json\nfrom antinex.utils.data import PACKET_REQUEST\nbody = json.loads(PACKET_REQUEST.read_text())\n"
    "body.update(label='Notebook-Detector', dataset=DATASET, epochs=EPOCHS)\n"
    "job = client.run_job(body)\nassert job['status'] == 0, job['error']\n"
    "trained = client.wait_for_job_to_finish(job['data']['job']['id'], sec_to_sleep=0.5, timeout=600)\n"
    "assert trained['status'] == 0, trained['error']\ntrained['data']['result']['acc_data']",
    "md:## New rows, same label: no retraining",
    "rows = pd.read_csv(os.environ.get('ROWS_CSV', DATASET)).head(20)\nfeatures = body['features_to_process']\n"
    "pred = client.predict_rows(rows[features].to_dict('records'), label='Notebook-Detector')\n"
    "assert pred['status'] == 0, pred['error']\nresult = pred['data']['result']\n"
    "print('model came from:', result['predictions_json']['model_source'])\n"
    "out = pd.DataFrame(result['predictions_json']['predictions'])\n"
    "out['recorded'] = rows['label_name'].values\nout[['label_name', 'recorded']].value_counts()",
]

if __name__ == "__main__":
    nbf.write(notebook(HOW_IT_WORKS), HERE / "AntiNex-How-It-Works.ipynb")
    nbf.write(notebook(PRE_TRAINED), HERE / "AntiNex-Using-Pre-Trained-Models.ipynb")
    print("wrote the notebooks")
