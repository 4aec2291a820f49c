# The service image, built once by compose's `migrate` service: the API replicas, the scheduler and the
# one-shot migration all run it.
FROM python:3.11-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-wqy-microhei \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
# The server alone: the service, its engine and the `homecare` command. The seed data and generators and
# the provider's simulator stay out (docs/design.md); `homecare seed` and `homecare simulate` run from a
# checkout instead.
COPY service ./service
COPY dispatch ./dispatch
COPY homecare_cli ./homecare_cli
RUN pip install --no-cache-dir -c constraints.txt .

# A user without a login and without root; /app/var is the one place it writes (the scheduler's
# heartbeat, an embedded SQLite database). Everything else in the image is read-only to it.
RUN useradd --create-home --uid 10001 homecare \
 && mkdir -p /app/var \
 && chown homecare:homecare /app/var
USER homecare
EXPOSE 8000
CMD ["homecare", "serve", "--host", "0.0.0.0", "--port", "8000", "--no-scheduler"]
