# Production image: web (gunicorn), worker and beat all run from it (see docker-compose.yml).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=brokerage.settings.production
RUN apt-get update \
 && apt-get install -y --no-install-recommends libmagic1 libpango-1.0-0 libpangoft2-1.0-0 \
      fonts-dejavu-core curl postgresql-client-15 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 1000 app
WORKDIR /app
COPY pyproject.toml ./
RUN pip install --upgrade pip && pip install .
COPY . .
# collectstatic needs settings to import, not real services.
RUN DJANGO_SECRET_KEY=build-only DATABASE_URL=postgres://build/build REDIS_URL=redis://build:6379/0 \
    python manage.py collectstatic --noinput -v 0 \
 && mkdir -p /app/var/private /app/var/metrics && chown -R app /app/var
USER app
EXPOSE 8000
# gunicorn trusts X-Forwarded-* only from FORWARDED_ALLOW_IPS (environment; default 127.0.0.1).
# brokerage/webserver.py: JSON log lines, no Server header.
CMD ["gunicorn", "-c", "python:brokerage.webserver", "brokerage.wsgi:application", \
     "--bind", "0.0.0.0:8000", "--workers", "4", "--access-logfile", "-"]
