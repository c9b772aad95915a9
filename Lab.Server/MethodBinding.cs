using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Lab.Protocol;

namespace Lab.Server;

/// <summary>
/// One registered method, analysed once at registration: its parameters (name, JSON reader, default),
/// how to invoke it and how to await its result. <see cref="ServerStub"/> keeps one per wire name.
/// </summary>
/// <remarks>
/// The lab's Python bound arguments with <c>func(*args, **kwargs)</c> and let Python report a bad call.
/// C# has no such call, so we do its work here — position first, then names, then defaults — and
/// report a call that does not bind as <see cref="ArgumentBindingException"/> (InvalidArguments),
/// before the method runs. Reflection happens in the constructor, never per call.
/// Immutable after construction: safe to use from every connection at once.
/// <example>
/// <code>
/// var add = new MethodBinding("add", (double a, double b, double c = 10) => a + b + c);
/// object?[] arguments = add.Bind(request.Args, request.Kwargs, methodToken);   // [1.0, 2.0, 10.0]
/// object? result = await add.InvokeAsync(arguments);                          // 13.0
/// </code>
/// </example>
/// </remarks>
internal sealed class MethodBinding
{
    private static readonly MethodInfo AwaitTaskOfT =
        typeof(MethodBinding).GetMethod(nameof(AwaitTaskAsync), BindingFlags.NonPublic | BindingFlags.Static)!;

    private static readonly MethodInfo AwaitValueTaskOfT =
        typeof(MethodBinding).GetMethod(nameof(AwaitValueTaskAsync), BindingFlags.NonPublic | BindingFlags.Static)!;

    private readonly Delegate _method;
    private readonly Parameter[] _parameters;
    private readonly int _cancellationTokenIndex = -1;
    private readonly Func<object?, ValueTask<object?>>? _awaitResult;

    public MethodBinding(string wireName, Delegate method)
    {
        _method = method;
        WireName = wireName;
        ParameterInfo[] infos = method.Method.GetParameters();
        _parameters = new Parameter[infos.Length];
        var bindable = new List<Parameter>();
        for (int i = 0; i < infos.Length; i++)
        {
            ParameterInfo info = infos[i];
            if (info.ParameterType == typeof(CancellationToken))
            {
                // The method-timeout token is passed here; it is never bound from the request.
                _cancellationTokenIndex = i;
                continue;
            }

            if (info.ParameterType.IsByRef || info.Name is null)
            {
                throw new ArgumentException($"method '{wireName}': parameter {i} cannot be bound from JSON (ref/out or unnamed)");
            }

            _parameters[i] = new Parameter(i, info.Name, ProtocolJson.Options.GetTypeInfo(info.ParameterType),
                info.HasDefaultValue, info.HasDefaultValue ? info.DefaultValue : null);
            bindable.Add(_parameters[i]);
        }

        BindableParameters = bindable;
        _awaitResult = CreateAwaiter(method.Method.ReturnType);
    }

    public string WireName { get; }

    /// <summary>True when the method has a <see cref="CancellationToken"/> parameter (it receives the method-timeout token).</summary>
    public bool TakesCancellationToken => _cancellationTokenIndex >= 0;

    /// <summary>The parameters a caller supplies, in order (the cancellation token excluded).</summary>
    public IReadOnlyList<Parameter> BindableParameters { get; }

    /// <summary>
    /// Turns the request's JSON arguments into the argument array of the method.
    /// </summary>
    /// <exception cref="ArgumentBindingException">Too many, unknown, duplicate or missing arguments, or a wrong JSON type.</exception>
    public object?[] Bind(IReadOnlyList<JsonElement> args, IReadOnlyDictionary<string, JsonElement> kwargs, CancellationToken methodToken)
    {
        if (args.Count > BindableParameters.Count)
        {
            throw new ArgumentBindingException($"{WireName}() takes at most {BindableParameters.Count} argument(s), {args.Count} given");
        }

        var values = new object?[_parameters.Length];
        var bound = new bool[_parameters.Length];
        for (int i = 0; i < args.Count; i++)
        {
            Parameter parameter = BindableParameters[i];
            values[parameter.Position] = Convert(parameter, args[i]);
            bound[parameter.Position] = true;
        }

        foreach ((string name, JsonElement value) in kwargs)
        {
            Parameter parameter = FindParameter(name)
                ?? throw new ArgumentBindingException($"{WireName}() got an unexpected keyword argument '{name}'");
            if (bound[parameter.Position])
            {
                throw new ArgumentBindingException($"{WireName}() got multiple values for argument '{name}'");
            }

            values[parameter.Position] = Convert(parameter, value);
            bound[parameter.Position] = true;
        }

        foreach (Parameter parameter in BindableParameters)
        {
            if (!bound[parameter.Position])
            {
                values[parameter.Position] = parameter.HasDefault
                    ? parameter.DefaultValue
                    : throw new ArgumentBindingException($"{WireName}() is missing required argument '{parameter.Name}'");
            }
        }

        if (_cancellationTokenIndex >= 0)
        {
            values[_cancellationTokenIndex] = methodToken;
        }

        return values;
    }

    /// <summary>
    /// Runs the method and awaits it if it is asynchronous. Exceptions thrown by the method come out
    /// unwrapped (not as TargetInvocationException), so the log and the reply show the real error.
    /// </summary>
    public async ValueTask<object?> InvokeAsync(object?[] arguments)
    {
        object? returned = _method.Method.Invoke(_method.Target, BindingFlags.DoNotWrapExceptions, binder: null, arguments, culture: null);
        return _awaitResult is null ? returned : await _awaitResult(returned).ConfigureAwait(false);
    }

    private Parameter? FindParameter(string name)
    {
        foreach (Parameter parameter in BindableParameters)
        {
            if (parameter.Name == name)
            {
                return parameter;
            }
        }

        return null;
    }

    private object? Convert(Parameter parameter, JsonElement value)
    {
        // A JsonElement parameter takes the request's own element. Deserializing would clone it into a
        // new document: for a 1 MiB echo that is a 1 MiB copy and a large-object-heap allocation per
        // call. The element stays valid until the reply is written (RpcConnection disposes the request
        // document only after that).
        if (parameter.TypeInfo.Type == typeof(JsonElement))
        {
            return value;
        }

        object? converted;
        try
        {
            converted = value.Deserialize(parameter.TypeInfo);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException
                                   && value.ValueKind == JsonValueKind.String && parameter.TypeInfo.Type == typeof(string))
        {
            // The only string .NET cannot read: an escape of half a character ("\ud800").
            throw new ArgumentBindingException(ProtocolJson.UnpairedSurrogate($"{WireName}() argument '{parameter.Name}'"));
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or NotSupportedException)
        {
            // System.Text.Json is strict: "abc" is not a double, 1.5 is not an int, null is not a double.
            throw new ArgumentBindingException(
                $"{WireName}() argument '{parameter.Name}' must be {Describe(parameter.TypeInfo.Type)}, not {DescribeJson(value)}");
        }

        // 1e309 reads as infinity: refuse it here, short and naming the argument, rather than run the
        // method and fail to send an infinite result.
        return (converted is double d && !double.IsFinite(d)) || (converted is float f && !float.IsFinite(f))
            ? throw new ArgumentBindingException($"{WireName}() argument '{parameter.Name}' is outside the range of a double: {DescribeJson(value)}")
            : converted;
    }

    // Task, Task<T>, ValueTask and ValueTask<T> results are awaited; anything else is the result itself.
    private static Func<object?, ValueTask<object?>>? CreateAwaiter(Type returnType)
    {
        if (returnType == typeof(Task))
        {
            return async task => { await ((Task)task!).ConfigureAwait(false); return null; };
        }

        if (returnType == typeof(ValueTask))
        {
            return async task => { await ((ValueTask)task!).ConfigureAwait(false); return null; };
        }

        if (returnType.IsGenericType && returnType.GetGenericTypeDefinition() == typeof(Task<>))
        {
            return AwaitTaskOfT.MakeGenericMethod(returnType.GetGenericArguments()).CreateDelegate<Func<object?, ValueTask<object?>>>();
        }

        if (returnType.IsGenericType && returnType.GetGenericTypeDefinition() == typeof(ValueTask<>))
        {
            return AwaitValueTaskOfT.MakeGenericMethod(returnType.GetGenericArguments()).CreateDelegate<Func<object?, ValueTask<object?>>>();
        }

        return null;
    }

    private static async ValueTask<object?> AwaitTaskAsync<T>(object? task) => await ((Task<T>)task!).ConfigureAwait(false);

    private static async ValueTask<object?> AwaitValueTaskAsync<T>(object? task) => await ((ValueTask<T>)task!).ConfigureAwait(false);

    private static string Describe(Type type)
    {
        Type underlying = Nullable.GetUnderlyingType(type) ?? type;
        return underlying switch
        {
            _ when underlying == typeof(string) => "a string",
            _ when underlying == typeof(bool) => "a boolean",
            _ when underlying == typeof(int) || underlying == typeof(long) || underlying == typeof(short) => "a whole number",
            _ when underlying == typeof(double) || underlying == typeof(float) || underlying == typeof(decimal) => "a number",
            _ => $"a {underlying.Name} value",
        };
    }

    private static string DescribeJson(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => value.GetRawText() is { Length: <= 40 } number ? $"the number {number}" : "a number of over 40 characters",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };

    /// <summary>One parameter a caller can supply: its position in the method, wire name, JSON reader and default.</summary>
    internal sealed record Parameter(int Position, string Name, JsonTypeInfo TypeInfo, bool HasDefault, object? DefaultValue);
}

/// <summary>The call does not bind to the method's parameters (reported as InvalidArguments; the method never ran).</summary>
public sealed class ArgumentBindingException(string message) : Exception(message);
