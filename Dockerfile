# hpo GPU worker image: one container runs `hpo worker` on one GPU (docker-compose.yml starts
# one service per GPU, the dashboard and `hpo data fetch` from this same image).
#   docker compose build                 # or: make image (docker build -t hpo-worker:VERSION .)
#
# TensorFlow: the `gpu` extra, i.e. the `tensorflow` build with NVIDIA's CUDA/cuDNN wheels, so
# the base is plain Python and the host needs only the NVIDIA driver and the NVIDIA Container
# Toolkit. Every version comes from constraints/py311.txt (`make lock`), the file CI and
# `make install` use too, so every worker of a study runs the same Optuna, SQLAlchemy and
# TensorFlow. Base: Python 3.11 on Debian 12 slim, pinned to an exact patch so a rebuild gets
# the same interpreter and OS; bump the tag on purpose. Extras: gpu (TensorFlow, which also runs on
# a CPU-only host: the compose `cpu` worker), postgres, kaggle (`hpo data fetch`), grpc (`hpo
# proxy`) and mlflow (a study's [tracking] mlflow), so any study file runs in this image.
FROM python:3.11.14-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    TF_CPP_MIN_LOG_LEVEL=2 \
    TF_FORCE_GPU_ALLOW_GROWTH=true

# Non-root user with a fixed uid/gid 10001: on the host, `sudo chown -R 10001:10001 studies`
# for bind mounts, or run the container as your own uid (compose: HPO_UID/HPO_GID in .env).
# HOME is writable by any uid (mode 1777, like /tmp), so Keras' cache works under both.
RUN groupadd --gid 10001 hpo \
 && useradd --uid 10001 --gid 10001 --home-dir /home/hpo --create-home --shell /usr/sbin/nologin hpo \
 && chmod 1777 /home/hpo
ENV HOME=/home/hpo KERAS_HOME=/home/hpo/.keras

WORKDIR /src
# Layer 1, the dependencies (GBs of CUDA wheels): rebuilt only when pyproject.toml or the lock
# changes. pip resolves our own extras from a stub package (empty hpo/ and README.md), then drops it.
# DL3013: '.[extras]' is our project, and the lock pins every version it installs.
COPY pyproject.toml constraints/py311.txt ./
# hadolint ignore=DL3013
RUN mkdir hpo && touch hpo/__init__.py README.md \
 && pip install '.[gpu,postgres,kaggle,grpc,mlflow]' --constraint py311.txt \
 && pip uninstall --yes hpo-keras

# Layer 2, hpo itself: a code change rebuilds only this. `pip check`: layer 1 still satisfies it.
COPY README.md ./
COPY hpo ./hpo
RUN pip install --no-deps . && pip check && rm -rf /src

WORKDIR /app
COPY --chown=10001:10001 studies ./studies
USER 10001:10001

# exec form, so hpo itself gets SIGTERM (as PID 1, or as tini's child under compose's
# `init: true`): the running trial is marked FAIL and re-queued, and the worker exits 143
# (128 + SIGTERM: not done, so Kubernetes replaces the pod; docs/guarantees.md, exit codes)
ENTRYPOINT ["hpo"]
CMD ["worker", "studies/animals10.toml"]
