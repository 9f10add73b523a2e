# The one image of docker-compose.yaml: Airflow plus this provider (and the sandbox's extras, so the same image
# runs the optional `sandbox` service). Every Airflow component imports the provider: the DAG processor parses
# the DAGs with it, workers and the triggerer run its operators and triggers, the API server shows its
# connection form. Installed at build time, never at container start.
FROM apache/airflow:3.3.2

COPY --chown=airflow:0 pyproject.toml README.md /opt/airflow-asf-ifg/
COPY --chown=airflow:0 airflow_asf_ifg /opt/airflow-asf-ifg/airflow_asf_ifg
# AIRFLOW_VERSION is the base image's own; pinning it keeps pip from upgrading or downgrading Airflow while it
# resolves the provider's dependencies (Airflow's "extending the image" rule).
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" "/opt/airflow-asf-ifg[sandbox]"
