import {stringify} from 'yaml'

import {fileEnvName} from '../config/settings-file.js'
import {defaultText, settingRows} from '../config/settings.js'

/**
 * The files of a new deploy target, in the shape of the project template's examples
 * (create_bento_model.py, common.py, a sample input, service.py) plus mldeploy.yaml with mldeploy's settings.
 */
export interface TargetSpec {
  /** `<model>/<version>` as the user named it. */
  name: string
  model: string
  version: string
  /** Model name in the BentoML store (`bentoml.mlflow.import_model(<name>, ...)`). */
  bentoModel: string
  /** MLflow model URI: runs:/<run-id>/model, models:/<name>/<version|stage>... */
  modelUri: string
  columns: string[]
  /** Python class of the BentoML service; its lowercase name becomes the bento's name. */
  serviceClass: string
  pythonVersion: string
  /** Settings for mldeploy.yaml; undefined ones are written commented out with their default. */
  env: EnvSettings
}

/** Settings to write, by variable name (MLDEPLOY_REPOSITORY...). */
export type EnvSettings = Partial<Record<string, string>>

/** Python string literal (JSON's escapes are valid Python ones). */
const py = (text: string): string => JSON.stringify(text)

export function createBentoModelPy(spec: TargetSpec): string {
  return `"""Import the MLflow model into the local BentoML store (run before \`bentoml build\`).

\`\`mldeploy push ${spec.name}\`\` runs this file in its folder. The model URI is resolved against the
MLflow server in MLFLOW_TRACKING_URI (behind the VPN): set it in the environment or in .env.
"""

import os

import bentoml
import mlflow
import pandas as pd

from common import feature_builder, output_formatter

_current_dir = os.path.dirname(os.path.abspath(__file__))
_sample_input_path = os.path.join(_current_dir, "example_input.csv")

_model_uri = ${py(spec.modelUri)}

# The MLflow run the model comes from, kept in the BentoML model's metadata: mldeploy labels the
# image with it (io.mldeploy.mlflow.run-id) and \`\`mldeploy inspect\`\` shows it.
_run_id = mlflow.models.get_model_info(_model_uri).run_id

bento_model = bentoml.mlflow.import_model(
    ${py(spec.bentoModel)},
    model_uri=_model_uri,
    metadata={"mlflow_model_uri": _model_uri, "mlflow_run_id": _run_id or ""},
    signatures={"predict": {"batchable": False, "batch_dim": 0}},
    custom_objects={
        "x_builder": feature_builder(),
        "formatter": output_formatter(),
        "sample_input": pd.read_csv(
            _sample_input_path,
        ),
    },
)
"""
Este es el paso donde importamos el modelo de *mlflow* a *bentoml* para su posterior
dockerización
"""
print(f"Imported {_model_uri} as {bento_model.tag}")
`
}

export function commonPy(spec: TargetSpec): string {
  const columns = spec.columns.map((column) => `    ${py(column)},`).join('\n')
  return `"""Helpers shared by create_bento_model.py and service.py.

Their instances are stored in the BentoML model's custom objects, so they must stay importable as
\`\`common\`\`: BentoML copies this folder into the bento, and the service imports from it.
"""

from typing import List

import pandas as pd

COLUMNS = [
${columns}
]


class FeatureBuilder:
    """Turns the request's records into the model's input frame."""

    def __init__(self, columns: List[str]):
        self.columns = list(columns)

    def __call__(self, data: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in self.columns if c not in data.columns]
        if missing:
            raise ValueError(f"missing columns: {missing}")
        return data[self.columns]


class OutputFormatter:
    """Turns the model's output into plain strings for JSON."""

    def __call__(self, predictions) -> List[str]:
        return [str(p) for p in predictions]


def feature_builder() -> FeatureBuilder:
    return FeatureBuilder(COLUMNS)


def output_formatter() -> OutputFormatter:
    return OutputFormatter()
`
}

/** A header and one row of zeros: replace it with a real example request. */
export function exampleInputCsv(spec: TargetSpec): string {
  return `${spec.columns.join(',')}\n${spec.columns.map(() => '0').join(',')}\n`
}

export function servicePy(spec: TargetSpec): string {
  return `"""Servicio API ${spec.model} (${spec.version})."""

import json
from typing import Annotated, Any, Dict, List

import bentoml
import pandas as pd
from bentoml.models import BentoModel

from common import COLUMNS

image = (
    bentoml.images.PythonImage(python_version=${py(spec.pythonVersion)}, distro="debian")
    # Add the model's own libraries (scikit-learn, tensorflow...), pinned to the training versions.
    .python_packages(
        "pandas",
        "mlflow",
    )
    .run('echo "Python packages installed"')
)

custom_objects = bentoml.mlflow.get(${py(`${spec.bentoModel}:latest`)}).custom_objects
sample_input = custom_objects["sample_input"]
example = json.dumps(sample_input.to_dict(orient="records"))


class InputDataModel(bentoml.IODescriptor):
    """Modelo de datos para la api de ${spec.model} ${spec.version}.

    Args:
      data: registros con las columnas de COLUMNS
    """

    data: Annotated[
        pd.DataFrame,
        bentoml.validators.DataframeSchema(
            orient="records",
            columns=COLUMNS,
        ),
    ] = example


@bentoml.service(image=image)
class ${spec.serviceClass}:
    """${spec.serviceClass} API service."""

    model = BentoModel(${py(`${spec.bentoModel}:latest`)})

    def __init__(self):
        """Carga el modelo y los helpers guardados junto a él."""
        self.loaded_model = bentoml.mlflow.load_model(self.model)
        self.x_builder = custom_objects["x_builder"]
        self.formatter = custom_objects["formatter"]

    @bentoml.api(
        input_spec=InputDataModel,
        route="/predict",
    )
    def predict(self, **params: Any) -> Dict[str, List[str]]:
        """
        Predict.

        Args:
          data: DataFrame

        Returns:
          {"prediction": [...]}
        """
        X = self.x_builder(params["data"])
        y = self.loaded_model.predict(X)
        return {"prediction": self.formatter(y)}
`
}

interface SettingEntry {
  /** The variable the value is also read from (MLDEPLOY_REPOSITORY, AWS_REGION...). */
  key: string
  /** Its key in mldeploy.yaml: the flag's name. */
  flag: string
  comment: string
  example: string
}

/** The settings table's rows that belong in a target's settings file, in table order, with this target's defaults. */
export function settingEntries(defaultRepository: string): SettingEntry[] {
  const entries: SettingEntry[] = []
  for (const [key, setting] of settingRows()) {
    if (setting.dotenv === undefined || setting.env === undefined) continue
    // The one target-derived default the file shows is the repository: name it for this target.
    const fallback = key === 'repository' ? defaultRepository : defaultText(setting)
    const text = setting.dotenv.comment ?? setting.help.replace(/\.$/, '')
    const example = setting.dotenv.example ?? fallback ?? ''
    entries.push({
      key: fileEnvName(setting),
      flag: setting.flag,
      comment: fallback === undefined ? text : `${text} [default: ${fallback}]`,
      example,
    })
  }
  return entries
}

/** `key: value` as YAML writes it (a list setting as a list, a string that looks like a number quoted). */
export function settingLine(flag: string, value: string): string {
  const list = settingRows().some(([, setting]) => setting.flag === flag && setting.kind === 'list')
  const text = stringify(list ? value.split(',') : value, {
    lineWidth: 0,
    collectionStyle: 'flow',
    flowCollectionPadding: false,
  })
  return `${flag}: ${text.trimEnd()}`
}

/** The target's mldeploy.yaml: committed next to bentofile.yaml, so every clone resolves the same. */
export function settingsYaml(spec: TargetSpec, defaultRepository: string): string {
  const lines = [
    `# mldeploy settings of ${spec.name}, committed next to bentofile.yaml: every clone (CI too)`,
    '# resolves the same. Keys are the flag names of mldeploy push --help. Precedence: flags >',
    '# MLDEPLOY_* variables > .env files (local overrides, git-ignored) > this file > the root',
    "# mldeploy.yaml > CI's AWS_REGION/AWS_PROFILE > defaults. A stages: map holds a stage's values.",
    '# No credentials here: they come from AWS_PROFILE, SSO, the environment or .env.',
  ]
  for (const entry of settingEntries(defaultRepository)) {
    const value = spec.env[entry.key]
    lines.push(
      '',
      `# ${entry.comment}`,
      value === undefined ? `# ${settingLine(entry.flag, entry.example)}` : settingLine(entry.flag, value),
    )
  }
  return `${lines.join('\n')}\n`
}
