using System.Net;
using Lab.Hosting;
using Lab.Registry.Dashboard;
using Lab.Protocol.Settings;
using Lab.Protocol.Discovery;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Lab.Registry;

/// <summary>Builds the registry center: Kestrel listening on <c>[registry] host:port</c>, the
/// <see cref="RequestHandler"/> routes, the <see cref="RegistryService"/> store and the
/// <see cref="HealthChecker"/>. The lab started its <c>HTTPServer</c> by hand in <c>main</c>; here the
/// same wiring is one method, so <c>Program.cs</c>, the tests and the scenario harness share it.</summary>
public static class RegistryApp
{
    /// <summary>Builds (does not start) the registry application.</summary>
    /// <param name="timeProvider">The clock for heartbeats and health checks; the system clock when null.</param>
    /// <param name="configureLogging">Extra logging set-up (tests add a provider that captures lines).</param>
    /// <exception cref="FormatException">The listen host is not an IP address or <c>localhost</c>.</exception>
    public static WebApplication Build(
        RegistrySettings settings,
        LogSettings logSettings,
        TimeProvider? timeProvider = null,
        Action<ILoggingBuilder>? configureLogging = null)
    {
        IPAddress listenAddress = HostAddress.ParseListen(settings.Host);

        // The empty builder reads no appsettings.json and no ASPNETCORE_* variables: -l/-p alone decide
        // where the registry listens, and ASPNETCORE_URLS or a launch profile cannot add an address.
        // Args = []: the command line is the program's to read (Program.cs), not the host's.
        WebApplicationBuilder builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { Args = [] });
        builder.Services.AddRoutingCore();
        builder.WebHost.UseKestrelCore();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(listenAddress, settings.Port, listen => listen.UseHttp10LengthGuard(kestrel.Limits.RequestHeadersTimeout));
            kestrel.AddServerHeader = false;
            // The one body-size limit: Kestrel stops reading a body at this size; RequestHandler turns
            // the overflow into a JSON 413.
            kestrel.Limits.MaxRequestBodySize = settings.MaxBodySize;
            // Every wait on a caller is bounded by Kestrel's limits, so a stalled client holds one
            // connection, never the registry: headers within RequestHeadersTimeout (30 s), a body at
            // MinRequestBodyDataRate (240 bytes/s after a 5 s grace), idle keep-alive closed after 130 s.
        });

        builder.Logging.AddLabLogging(logSettings);
        // A bind failure (port in use) is reported once, by the program's fatal-error line; the host's own
        // "Hosting failed to start" error would only repeat it.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting", LogLevel.Critical);
        configureLogging?.Invoke(builder.Logging);

        // Stopping waits for in-flight requests, which are tiny; don't let a stuck client hold it for 30 s.
        builder.Services.Configure<HostOptions>(options => options.ShutdownTimeout = TimeSpan.FromSeconds(5));
        builder.Services.AddSingleton(settings);
        builder.Services.AddSingleton(timeProvider ?? TimeProvider.System);
        builder.Services.AddSingleton<RegistryService>();
        builder.Services.AddSingleton<RequestHandler>();
        builder.Services.AddHostedService<HealthChecker>();

        WebApplication app = builder.Build();
        app.Services.GetRequiredService<RequestHandler>().MapRoutes(app);
        app.MapDashboard(app.Services.GetRequiredService<RegistryService>(), settings);

        ILogger logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Lab.Registry.Registry");
        // ApplicationStarted fires only after Kestrel has bound its socket, so the readiness line that the
        // scenario harness waits for is never printed for a registry that cannot accept connections yet.
        // By then app.Urls holds the bound address, with the real port when port 0 was asked for.
        app.Lifetime.ApplicationStarted.Register(() => logger.LogInformation("Registry listening on {Url}", app.Urls.First()));
        app.Lifetime.ApplicationStopped.Register(() => logger.LogInformation("Registry stopped"));
        return app;
    }
}
