# syntax=docker/dockerfile:1
# Build: a static binary with the time zone database embedded (-tags timetzdata), so the image
# needs no tzdata for Europe/Vilnius. scripts/test runs the same go build command.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -tags timetzdata -ldflags "-s -w -X main.version=${VERSION}" -o /out/tiltas ./cmd/tiltas

# Run: no shell, no package manager, a non-root user.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/tiltas /usr/local/bin/tiltas
# The config (with the municipality's people) is mounted at /etc/tiltas/config.yaml, never baked
# in: docker run -v ./config.yaml:/etc/tiltas/config.yaml:ro … (Compose does).
USER nonroot:nonroot
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["/usr/local/bin/tiltas", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/tiltas"]
CMD ["serve", "-c", "/etc/tiltas/config.yaml"]
