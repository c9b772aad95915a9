# RpcLab's three programs in one image; compose.yaml picks the program per container.
#   docker build -t rpclab .
#   docker run --rm rpclab dotnet /app/server/Lab.Server.dll -p 8089

# Build stage: the SDK restores and publishes each program into its own folder.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
RUN dotnet publish Lab.Registry -c Release -o /app/registry \
 && dotnet publish Lab.Server -c Release -o /app/server \
 && dotnet publish Lab.ClientApp -c Release -o /app/client

# Runtime stage: the ASP.NET Core runtime (the registry needs it; it includes the base runtime),
# no SDK, no sources, and a user without root rights.
FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
WORKDIR /app
COPY --from=build /app /app
USER app
# Ports inside the container: 9999 registry (HTTP), 8089 server (TCP + JSON).
EXPOSE 9999 8089
CMD ["dotnet", "/app/client/Lab.ClientApp.dll", "--help"]
