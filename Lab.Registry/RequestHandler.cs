using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Text.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Serialization;
using System.Text.Unicode;
using Lab.Protocol;
using Lab.Protocol.Configuration;
using Lab.Protocol.Discovery;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace Lab.Registry;

/// <summary>
/// Mirrors the lab's <c>RequestHandler</c>: turns the registry's HTTP requests (lab requirements §4) into calls on
/// <see cref="RegistryService"/> and writes the JSON answers that programs written for the original
/// lab expect, byte for byte in field names and order.
/// </summary>
/// <remarks>
/// <para>
/// Routes: <c>POST /myRegistry/register</c> (register or heartbeat), <c>POST /myRegistry/unregister</c>,
/// <c>GET /myRegistry/findAllInstances?proto=json</c>. Anything else — another path, or a known path
/// with another HTTP method — is <c>404 {"error": "Not Found"}</c>: the lab's handler only knew these
/// three requests, and lab requirements §4 says "anything else: 404" (so not ASP.NET's usual 405).
/// </para>
/// <para>
/// The original crashed its handler thread on bad JSON or a missing Content-Length. Here every bad
/// body is a <c>400 {"error": "..."}</c> naming the problem, a body over <c>max_body_size</c> is a
/// <c>413</c>, and a chunked body (no Content-Length) is read like any other.
/// Concurrency: stateless; Kestrel calls the handlers concurrently.
/// </para>
/// <example>
/// <code>
/// WebApplication app = builder.Build();
/// app.Services.GetRequiredService&lt;RequestHandler&gt;().MapRoutes(app);
/// await app.RunAsync();
/// </code>
/// </example>
/// </remarks>
public sealed class RequestHandler(RegistryService registry, RegistrySettings settings, ILogger<RequestHandler> logger)
{
    public const string RegisterPath = "/myRegistry/register";
    public const string UnregisterPath = "/myRegistry/unregister";
    public const string FindAllInstancesPath = "/myRegistry/findAllInstances";
    public const string ProtocolQueryParameter = "proto";

    /// <summary>Adds the three routes, the 404 for everything else and the JSON 500 guard to the app.</summary>
    public void MapRoutes(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.Use(GuardAsync);
        // Cast to Delegate: as a plain RequestDelegate, the IResult each handler returns would be dropped.
        app.MapPost(RegisterPath, (Delegate)RegisterAsync);
        app.MapPost(UnregisterPath, (Delegate)UnregisterAsync);
        app.MapGet(FindAllInstancesPath, (Delegate)FindAllInstances);
        // "{**path}" matches every path, file-like ones (/favicon.ico) included, and any method; routing
        // prefers it over a 405 when a known path is asked with the wrong method.
        app.MapFallback("{**path}", () => Error(StatusCodes.Status404NotFound, "Not Found"));
    }

    /// <summary><c>POST /myRegistry/register</c>: add the instance, or refresh it (a heartbeat).</summary>
    public async Task<IResult> RegisterAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        (InstanceMeta? instance, IResult? error) = await ReadInstanceAsync(context);
        if (instance is null)
        {
            return error!;
        }

        try
        {
            return Answer(registry.Register(instance));
        }
        catch (RegistryFullException ex)
        {
            return Error(StatusCodes.Status503ServiceUnavailable, ex.Message);
        }
    }

    /// <summary><c>POST /myRegistry/unregister</c>: remove the instance; unknown instances are fine.</summary>
    public async Task<IResult> UnregisterAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        (InstanceMeta? instance, IResult? error) = await ReadInstanceAsync(context);
        if (instance is null)
        {
            return error!;
        }

        registry.Unregister(instance);
        return Answer(instance.With(status: false));
    }

    /// <summary><c>GET /myRegistry/findAllInstances?proto=json</c>: the healthy instances of that protocol.</summary>
    public IResult FindAllInstances(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        string? protocol = context.Request.Query[ProtocolQueryParameter];
        return string.IsNullOrWhiteSpace(protocol)
            ? Error(StatusCodes.Status400BadRequest, $"missing query parameter \"{ProtocolQueryParameter}\" (e.g. ?{ProtocolQueryParameter}=json)")
            : Answer(registry.FindHealthy(protocol.Trim()));
    }

    // Reads and validates the body as an InstanceMeta; exactly one of the pair is set.
    private async Task<(InstanceMeta? Instance, IResult? Error)> ReadInstanceAsync(HttpContext context)
    {
        // With a [registry] token, only servers that know it may add or remove entries; discovery stays open.
        if (settings.Token.Length > 0 && !CryptographicOperations.FixedTimeEquals(
                Encoding.UTF8.GetBytes(context.Request.Headers.Authorization.ToString()), Encoding.UTF8.GetBytes($"Bearer {settings.Token}")))
        {
            return (null, Error(StatusCodes.Status401Unauthorized,
                "this registry needs its token: send the header \"Authorization: Bearer <token>\" with the [registry] token of config.ini"));
        }

        InstanceMeta instance;
        try
        {
            if (await ReadBodyAsync(context.Request.BodyReader, context.RequestAborted) is not { } parsed)
            {
                return (null, TooLarge());
            }

            instance = parsed;
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            // Kestrel's own MaxRequestBodySize tripped (RegistryApp sets it to max_body_size).
            return (null, TooLarge());
        }
        catch (BadHttpRequestException ex)
        {
            // A broken chunked encoding or a body cut short: the request, not the registry, is at fault.
            return (null, Error(ex.StatusCode, ex.Message));
        }
        catch (FormatException ex)
        {
            return (null, Error(StatusCodes.Status400BadRequest, ex.Message));
        }

        // A server listening on 0.0.0.0 or :: cannot be dialled at that address: record the address
        // its request came from instead, which is one the server is reachable at.
        if (InstanceMeta.IsWildcardHost(instance.Host))
        {
            if (context.Connection.RemoteIpAddress is not { } remote)
            {
                return (null, Error(StatusCodes.Status400BadRequest, "\"host\" is a wildcard and the caller's address is unknown"));
            }

            instance = instance.With(host: CallerHost(remote));
        }

        return (instance, null);
    }

    /// <summary>The caller's address as a host string clients can dial.</summary>
    internal static string CallerHost(IPAddress remote) =>
        // A dual-stack listener (::) sees IPv4 callers as ::ffff:1.2.3.4; clients want 1.2.3.4.
        (remote.IsIPv4MappedToIPv6 ? remote.MapToIPv4() : remote).ToString();

    // Collects the whole body (Content-Length or chunked) up to max_body_size, then parses it.
    // Null means the body is too large.
    private async Task<InstanceMeta?> ReadBodyAsync(PipeReader body, CancellationToken cancellationToken)
    {
        while (true)
        {
            ReadResult read = await body.ReadAsync(cancellationToken);
            ReadOnlySequence<byte> buffer = read.Buffer;
            if (buffer.Length > settings.MaxBodySize)
            {
                body.AdvanceTo(buffer.End);
                return null;
            }

            if (!read.IsCompleted)
            {
                // Keep everything, ask for more: the body is parsed only once it is complete.
                body.AdvanceTo(buffer.Start, buffer.End);
                continue;
            }

            try
            {
                return Parse(buffer);
            }
            finally
            {
                body.AdvanceTo(buffer.End);
            }
        }
    }

    private static InstanceMeta Parse(ReadOnlySequence<byte> body)
    {
        // No body at all, or only whitespace (an HTTP/1.0 client without Content-Length sends nothing).
        if (IsBlank(body))
        {
            throw new FormatException("the body is empty; send an InstanceMeta JSON object");
        }

        // JSON text is UTF-8; invalid bytes in "host" or a key used to surface as a 500.
        if (!Utf8.IsValid(body.IsSingleSegment ? body.FirstSpan : body.ToArray()))
        {
            throw new FormatException("the body is not valid UTF-8 text");
        }

        try
        {
            using JsonDocument document = JsonDocument.Parse(body, ProtocolJson.DocumentOptions);
            return InstanceMeta.Parse(document.RootElement);
        }
        catch (JsonException ex)
        {
            string why = ProtocolJson.Explain(ex);
            throw new FormatException(why.StartsWith("duplicate", StringComparison.Ordinal) ? why : $"the body is not valid JSON: {why}", ex);
        }
        catch (InvalidOperationException ex)
        {
            // A string or key escaping half a character ("\ud800"), which .NET strings cannot hold.
            throw new FormatException(ProtocolJson.UnpairedSurrogate("a string in the body"), ex);
        }
    }

    private static bool IsBlank(ReadOnlySequence<byte> body)
    {
        foreach (ReadOnlyMemory<byte> segment in body)
        {
            if (segment.Span.IndexOfAnyExcept(" \t\r\n"u8) >= 0)
            {
                return false;
            }
        }

        return true;
    }

    // The last line of defence: a fault in a handler becomes a JSON 500 and one log line; Kestrel
    // keeps serving the other requests either way.
    private async Task GuardAsync(HttpContext context, RequestDelegate next)
    {
        try
        {
            await next(context);
        }
        catch (Exception ex) when (ex is not OperationCanceledException && !context.Response.HasStarted)
        {
            logger.LogError(ex, "{Method} {Path} failed", context.Request.Method, context.Request.Path);
            await Error(StatusCodes.Status500InternalServerError, "internal registry error").ExecuteAsync(context);
        }
    }

    private IResult TooLarge() =>
        Error(StatusCodes.Status413PayloadTooLarge, $"the body is larger than the maximum of {settings.MaxBodySize} bytes");

    private static IResult Answer<T>(T value) => Results.Json(value, ProtocolJson.Options);

    private static IResult Error(int statusCode, string message) =>
        Results.Json(new ErrorBody(message), ProtocolJson.Options, statusCode: statusCode);

    /// <summary>The body of every error answer: <c>{"error": "..."}</c>.</summary>
    private sealed record ErrorBody([property: JsonPropertyName("error")] string Error);
}
