# Builds the hcal binary into a small runtime image (used by docker-compose.yml).
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin hcal

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
# hcal's data directory in docker-compose.yml: a new named volume takes this owner, so the
# unprivileged user below can write to it.
RUN mkdir -p /var/lib/hcal && chown 65534:65534 /var/lib/hcal
COPY --from=build /src/target/release/hcal /usr/local/bin/hcal
USER 65534:65534
ENTRYPOINT ["/usr/local/bin/hcal"]
