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
COPY config/example.yaml /etc/tiltas/config.yaml
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/tiltas"]
CMD ["serve", "-c", "/etc/tiltas/config.yaml"]
