# GPU worker image: TensorFlow's CUDA build + hpo. One container runs `hpo worker` on one GPU.
#   docker compose build worker
FROM tensorflow/tensorflow:2.21.0-gpu

ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 TF_CPP_MIN_LOG_LEVEL=2
WORKDIR /app
COPY pyproject.toml README.md ./
# TensorFlow with CUDA comes with the base image: install every other dependency from
# pyproject.toml (skipping tensorflow-cpu, whose files would overwrite the GPU build), then hpo.
RUN python -c "import tomllib; d = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; \
print('\n'.join(x for x in d if not x.startswith('tensorflow')))" > /tmp/requirements.txt \
 && pip install --upgrade pip && pip install -r /tmp/requirements.txt
COPY hpo ./hpo
RUN pip install --no-deps .
COPY studies ./studies
ENTRYPOINT ["hpo"]
CMD ["worker", "studies/animals10.toml"]
