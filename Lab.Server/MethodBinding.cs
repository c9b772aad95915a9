using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Lab.Protocol;

namespace Lab.Server;

/// <summary>One registered method, analysed once at registration: its parameters (name, JSON reader, default),
/// how to invoke it and how to await its result. <see cref="ServerStub"/> keeps one per wire name.</summary>
/// <remarks>The lab's Python bound arguments with <c>func(*args, **kwargs)</c> and let Python report a bad call.
/// C# has no such call, so we do its work here — position first, then names, then defaults — and
/// report a call that does not bind as <see cref="ArgumentBindingException"/> (InvalidArguments),
/// before the method runs. Reflection over the signature happens in the constructor, never per call.
/// Immutable after construction: safe to use from every connection at once.</remarks>
internal sealed class MethodBinding
{
    private readonly Delegate _method;
    private readonly int _parameterCount;
    private readonly int _cancellationTokenIndex = -1;

    // Task, Task<T>, ValueTask and ValueTask<T> results are awaited (ValueTasks through AsTask);
    // _taskResult reads T. All null for a method that returns its result directly.
    private readonly Type? _taskType;
    private readonly MethodInfo? _asTask;
    private readonly PropertyInfo? _taskResult;

    public MethodBinding(string wireName, Delegate method)
    {
        _method = method;
        WireName = wireName;
        ParameterInfo[] infos = method.Method.GetParameters();
        _parameterCount = infos.Length;
        var bindable = new List<Parameter>();
        foreach (ParameterInfo info in infos)
        {
            if (info.ParameterType == typeof(CancellationToken))
            {
                // The method-timeout token is passed here; it is never bound from the request.
                _cancellationTokenIndex = info.Position;
                continue;
            }

            if (info.ParameterType.IsByRef || info.Name is null)
                throw new ArgumentException($"method '{wireName}': parameter {info.Position} cannot be bound from JSON (ref/out or unnamed)");
            bindable.Add(new Parameter(info.Position, info.Name, ProtocolJson.Options.GetTypeInfo(info.ParameterType),
                info.HasDefaultValue, info.HasDefaultValue ? info.DefaultValue : null));
        }

        Parameters = bindable;
        Type returns = method.Method.ReturnType;
        bool valueTask = returns == typeof(ValueTask) || (returns.IsGenericType && returns.GetGenericTypeDefinition() == typeof(ValueTask<>));
        _asTask = valueTask ? returns.GetMethod(nameof(ValueTask.AsTask)) : null;
        _taskType = _asTask?.ReturnType ?? (typeof(Task).IsAssignableFrom(returns) ? returns : null);
        _taskResult = _taskType is { IsGenericType: true } ? _taskType.GetProperty(nameof(Task<int>.Result)) : null;
    }

    public string WireName { get; }

    /// <summary>The parameters a caller supplies, in order (the cancellation token excluded).</summary>
    public IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>Turns the request's JSON arguments into the argument array of the method: values the method owns,
    /// which stay intact after the request's document is gone.</summary>
    /// <exception cref="ArgumentBindingException">Too many, unknown, duplicate or missing arguments, or a wrong JSON type.</exception>
    public object?[] Bind(IReadOnlyList<JsonElement> args, IReadOnlyDictionary<string, JsonElement> kwargs, CancellationToken methodToken)
    {
        if (args.Count > Parameters.Count)
            throw new ArgumentBindingException($"{WireName}() takes at most {Parameters.Count} argument(s), {args.Count} given");

        var values = new object?[_parameterCount];
        var bound = new bool[_parameterCount];
        for (int i = 0; i < args.Count; i++)
            (values[Parameters[i].Position], bound[Parameters[i].Position]) = (Convert(Parameters[i], args[i]), true);

        foreach ((string name, JsonElement value) in kwargs)
        {
            Parameter parameter = Parameters.FirstOrDefault(p => p.Name == name)
                ?? throw new ArgumentBindingException($"{WireName}() got an unexpected keyword argument '{name}'");
            if (bound[parameter.Position])
                throw new ArgumentBindingException($"{WireName}() got multiple values for argument '{name}'");
            (values[parameter.Position], bound[parameter.Position]) = (Convert(parameter, value), true);
        }

        foreach (Parameter parameter in Parameters.Where(p => !bound[p.Position]))
        {
            values[parameter.Position] = parameter.HasDefault
                ? parameter.DefaultValue
                : throw new ArgumentBindingException($"{WireName}() is missing required argument '{parameter.Name}'");
        }

        if (_cancellationTokenIndex >= 0)
            values[_cancellationTokenIndex] = methodToken;
        return values;
    }

    /// <summary>Runs the method and awaits it if it is asynchronous. Exceptions thrown by the method come out
    /// unwrapped (not as TargetInvocationException), so the log and the reply show the real error.</summary>
    public async ValueTask<object?> InvokeAsync(object?[] arguments)
    {
        object? returned = Invoke(_method.Method, _method.Target, arguments);
        if (_taskType is null)
            return returned;
        var task = (Task)(_asTask is null ? returned! : Invoke(_asTask, returned, [])!);
        await task.ConfigureAwait(false);
        return _taskResult?.GetValue(task);
    }

    private static object? Invoke(MethodInfo method, object? target, object?[] arguments) =>
        method.Invoke(target, BindingFlags.DoNotWrapExceptions, binder: null, arguments, culture: null);

    private object? Convert(Parameter parameter, JsonElement value)
    {
        // A JsonElement points into the request's bytes, which the connection reuses for its next request,
        // even while a method that ran past its deadline still runs. So the method gets a copy of its own:
        // Clone copies the element's bytes once, where deserializing would parse them again.
        if (parameter.TypeInfo.Type == typeof(JsonElement))
            return value.Clone();

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

    private static string DescribeJson(JsonElement value) =>
        value.ValueKind == JsonValueKind.Number && value.GetRawText() is { Length: <= 40 } number ? $"the number {number}" : ProtocolJson.Describe(value.ValueKind);

    private static string Describe(Type type) => (Nullable.GetUnderlyingType(type) ?? type) switch
    {
        Type t when t == typeof(string) => "a string",
        Type t when t == typeof(bool) => "a boolean",
        Type t when t == typeof(int) || t == typeof(long) || t == typeof(short) => "a whole number",
        Type t when t == typeof(double) || t == typeof(float) || t == typeof(decimal) => "a number",
        Type t => $"a {t.Name} value",
    };

    /// <summary>One parameter a caller can supply: its position in the method, wire name, JSON reader and default.</summary>
    internal sealed record Parameter(int Position, string Name, JsonTypeInfo TypeInfo, bool HasDefault, object? DefaultValue);
}

/// <summary>The call does not bind to the method's parameters (reported as InvalidArguments; the method never ran).</summary>
public sealed class ArgumentBindingException(string message) : Exception(message);
