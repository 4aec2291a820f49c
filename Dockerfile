# The service image: API replicas and the scheduler process run the same image.
FROM python:3.11-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-wqy-microhei \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY service ./service
COPY dispatch ./dispatch
COPY providers ./providers
COPY seed ./seed
RUN pip install --no-cache-dir -c constraints.txt .

RUN useradd --create-home homecare
USER homecare
EXPOSE 8000
CMD ["homecare", "serve", "--host", "0.0.0.0", "--port", "8000", "--no-scheduler"]
