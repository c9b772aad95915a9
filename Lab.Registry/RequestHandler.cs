using System.Net.Http.Headers;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Unicode;
using Lab.Protocol;
using Lab.Protocol.Settings;
using Lab.Protocol.Discovery;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace Lab.Registry;

/// <summary>Mirrors the lab's <c>RequestHandler</c>: turns the registry's HTTP requests (lab requirements §4) into calls on
/// <see cref="RegistryService"/> and writes the JSON answers that programs written for the original
/// lab expect, byte for byte in field names and order.</summary>
/// <remarks><para>
/// Routes: <c>POST /myRegistry/register</c> (register or heartbeat), <c>POST /myRegistry/unregister</c>,
/// <c>GET /myRegistry/findAllInstances?proto=json</c>. Anything else — another path, or a known path
/// with another HTTP method — is <c>404 {"error": "Not Found"}</c>: the lab's handler only knew these
/// three requests, and the lab requirements say "anything else: 404" (so not ASP.NET's usual 405).</para>
/// <para>The original crashed its handler thread on bad JSON or a missing Content-Length. Here every bad
/// body is a <c>400 {"error": "..."}</c> naming the problem, a body over <c>max_body_size</c> is a
/// <c>413</c>, and a chunked body (no Content-Length) is read like any other.
/// Concurrency: stateless; Kestrel calls the handlers concurrently.</para>
/// <example><code>
/// WebApplication app = builder.Build();
/// app.Services.GetRequiredService&lt;RequestHandler&gt;().MapRoutes(app);
/// await app.RunAsync();
/// </code></example></remarks>
public sealed class RequestHandler(RegistryService registry, RegistrySettings settings, ILogger<RequestHandler> logger)
{
    public const string RegisterPath = "/myRegistry/register";
    public const string UnregisterPath = "/myRegistry/unregister";
    public const string FindAllInstancesPath = "/myRegistry/findAllInstances";

    /// <summary>Adds the three routes, the 404 for everything else and the JSON 500 guard to the app.</summary>
    public void MapRoutes(WebApplication app)
    {
        app.Use(GuardAsync);
        // Cast to Delegate: as a plain RequestDelegate, the IResult each handler returns would be dropped.
        app.MapPost(RegisterPath, (Delegate)RegisterAsync);
        app.MapPost(UnregisterPath, (Delegate)UnregisterAsync);
        app.MapGet(FindAllInstancesPath, (Delegate)FindAllInstances);
        // "{**path}" matches every path, file-like ones (/favicon.ico) included, and any method; routing
        // prefers it over a 405 when a known path is asked with the wrong method.
        app.MapFallback("{**path}", () => Error(StatusCodes.Status404NotFound, "Not Found"));
    }

    // POST /myRegistry/register: add the instance, or refresh it (a heartbeat).
    private async Task<IResult> RegisterAsync(HttpContext context)
    {
        InstanceMeta instance = await ReadInstanceAsync(context);
        try
        {
            return Answer(registry.Register(instance));
        }
        catch (RegistryFullException ex)
        {
            return Error(StatusCodes.Status503ServiceUnavailable, ex.Message);
        }
    }

    // POST /myRegistry/unregister: remove the instance; unknown instances are fine.
    private async Task<IResult> UnregisterAsync(HttpContext context)
    {
        InstanceMeta instance = await ReadInstanceAsync(context);
        registry.Unregister(instance);
        return Answer(instance.With(status: false));
    }

    // GET /myRegistry/findAllInstances?proto=json: the healthy instances of that protocol.
    private IResult FindAllInstances(HttpContext context)
    {
        string? protocol = context.Request.Query["proto"];
        return string.IsNullOrWhiteSpace(protocol)
            ? Error(StatusCodes.Status400BadRequest, "missing query parameter \"proto\" (e.g. ?proto=json)")
            : Answer(registry.FindHealthy(protocol.Trim()));
    }

    // Reads and validates the body as an InstanceMeta. A request at fault throws BadHttpRequestException,
    // as Kestrel does for a body it cannot read, and GuardAsync answers both the same way.
    private async Task<InstanceMeta> ReadInstanceAsync(HttpContext context)
    {
        // With a [registry] token, only servers that know it may add or remove entries; discovery stays open.
        if (settings.Token.Length > 0 && !HasToken(context.Request.Headers.Authorization.ToString()))
            throw new BadHttpRequestException("this registry needs its token: send the header \"Authorization: Bearer <token>\" with the [registry] token of config.ini",
                StatusCodes.Status401Unauthorized);

        // Content-Length or chunked, Kestrel delivers the body whole and stops at MaxRequestBodySize
        // (RegistryApp sets it to max_body_size), so a huge upload cannot fill the registry's memory.
        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body, context.RequestAborted);
        InstanceMeta instance = Parse(body.GetBuffer().AsMemory(0, (int)body.Length), settings.MaxParametersSize);

        // A server listening on 0.0.0.0 or :: cannot be dialled at that address: record the address
        // its request came from instead, which is one the server is reachable at.
        if (HostAddress.IsWildcard(instance.Host))
        {
            if (context.Connection.RemoteIpAddress is not { } remote)
                throw new BadHttpRequestException("\"host\" is a wildcard and the caller's address is unknown");
            instance = instance.With(host: HostAddress.Dialable(remote));
        }

        return instance;
    }

    // "Authorization: Bearer <token>". The scheme is case-insensitive (RFC 7235: "bearer" works too); the
    // token is compared in constant time, so the answer's timing does not tell how much of a guess was right.
    private bool HasToken(string authorization) =>
        AuthenticationHeaderValue.TryParse(authorization, out AuthenticationHeaderValue? credentials)
        && credentials.Scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase)
        && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(credentials.Parameter ?? ""), Encoding.UTF8.GetBytes(settings.Token));

    private static InstanceMeta Parse(ReadOnlyMemory<byte> body, int maxParametersSize)
    {
        // No body at all, or only whitespace (an HTTP/1.0 client without Content-Length sends nothing).
        if (body.Span.IndexOfAnyExcept(" \t\r\n"u8) < 0)
            throw new BadHttpRequestException("the body is empty; send an InstanceMeta JSON object");
        // JSON text is UTF-8; invalid bytes in "host" or a key used to surface as a 500.
        if (!Utf8.IsValid(body.Span))
            throw new BadHttpRequestException("the body is not valid UTF-8 text");
        try
        {
            using JsonDocument document = JsonDocument.Parse(body, ProtocolJson.DocumentOptions);
            InstanceMeta instance = InstanceMeta.Parse(document.RootElement);
            // Every client downloads every instance at every poll: free-form metadata is kept small.
            int parametersSize = document.RootElement.TryGetProperty("parameters", out JsonElement parameters) ? JsonMarshal.GetRawUtf8Value(parameters).Length : 0;
            return parametersSize <= maxParametersSize
                ? instance
                : throw new BadHttpRequestException($"\"parameters\" is {parametersSize} bytes of JSON; this registry takes at most {maxParametersSize} (max_parameters_size)");
        }
        catch (FormatException ex)
        {
            throw new BadHttpRequestException(ex.Message, ex);
        }
        catch (JsonException ex)
        {
            string why = ProtocolJson.Explain(ex);
            throw new BadHttpRequestException(why.StartsWith("duplicate", StringComparison.Ordinal) ? why : $"the body is not valid JSON: {why}", ex);
        }
        catch (InvalidOperationException ex)
        {
            // A key escaping half a character ("\ud800"): the parser's duplicate-key check cannot read it.
            throw new BadHttpRequestException(ProtocolJson.UnpairedSurrogate("a string in the body"), ex);
        }
    }

    // Where a request refused by an exception gets its answer (a bad token or body: 4xx; the handlers
    // answer 404, 503 and a missing proto themselves, Http10LengthGuard an HTTP/1.0 body without a
    // length), and the last line of defence: a fault in a handler becomes a JSON 500 and one log line.
    // Kestrel keeps serving the other requests either way.
    private async Task GuardAsync(HttpContext context, RequestDelegate next)
    {
        try
        {
            await next(context);
        }
        catch (BadHttpRequestException ex) when (!context.Response.HasStarted)
        {
            // The request, not the registry, is at fault: a bad token or body, a broken chunked encoding,
            // a body cut short, or one past Kestrel's MaxRequestBodySize (the one body-size limit).
            await Error(ex.StatusCode, ex.StatusCode == StatusCodes.Status413PayloadTooLarge
                ? $"the body is larger than the maximum of {settings.MaxBodySize} bytes"
                : ex.Message).ExecuteAsync(context);
        }
        catch (Exception ex) when (ex is not OperationCanceledException && !context.Response.HasStarted)
        {
            logger.LogError(ex, "{Method} {Path} failed", context.Request.Method, context.Request.Path);
            await Error(StatusCodes.Status500InternalServerError, "internal registry error").ExecuteAsync(context);
        }
    }

    private static IResult Answer<T>(T value) => Results.Json(value, ProtocolJson.Options);

    private static IResult Error(int statusCode, string message) =>
        Results.Json(new ErrorBody(message), ProtocolJson.Options, statusCode: statusCode);

    /// <summary>The body of every error answer: <c>{"error": "..."}</c>.</summary>
    private sealed record ErrorBody([property: JsonPropertyName("error")] string Error);
}
