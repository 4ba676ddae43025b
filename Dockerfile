# The Parley image (compose.yaml): one image for web, workers and beat. The CPU build of torch by default;
# for the gpu/serve workers build with --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128.
FROM python:3.11-slim
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 DJANGO_SETTINGS_MODULE=parley.settings.production
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm && rm -rf /var/lib/apt/lists/*
COPY requirements.txt requirements-vllm.txt package.json package-lock.json ./
RUN pip install --index-url "$TORCH_INDEX" torch==2.13.0 \
    && pip install -r requirements.txt \
    && npm ci --no-audit --no-fund --silent
COPY . .
RUN pip install --no-deps --no-build-isolation -e . \
    # collectstatic needs the settings to import; these values exist only during the build.
    && DJANGO_SECRET_KEY=build-only-build-only-build-only-build-only-build-only \
       DJANGO_ALLOWED_HOSTS=build DATABASE_URL=sqlite:////tmp/build.sqlite3 CELERY_BROKER_URL=redis://build/0 \
       python manage.py collectstatic --noinput
RUN useradd --create-home --uid 1000 parley && mkdir -p /srv/parley && chown -R parley /srv/parley
USER parley
