using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Lab.Tests.Support;

/// <summary>Every measurement of one meter's instruments, with its tags, read the way dotnet-counters reads
/// them (a <see cref="MeterListener"/>).</summary>
public sealed class MeterRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentQueue<(string Instrument, double Value, KeyValuePair<string, object?>[] Tags)> _measurements = new();

    public MeterRecorder(string meterName)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == meterName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => _measurements.Enqueue((instrument.Name, value, tags.ToArray())));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => _measurements.Enqueue((instrument.Name, value, tags.ToArray())));
        _listener.Start();
    }

    /// <summary>Reads the observable instruments now (dotnet-counters does this once per refresh).</summary>
    public void Observe() => _listener.RecordObservableInstruments();

    public double Sum(string instrument, params (string Key, string Value)[] tags) => Matching(instrument, tags).Sum();

    public int Count(string instrument) => Matching(instrument, []).Count();

    public long Last(string instrument) => (long)Matching(instrument, []).Last();

    public void Dispose() => _listener.Dispose();

    private IEnumerable<double> Matching(string instrument, (string Key, string Value)[] tags) => _measurements
        .Where(measurement => measurement.Instrument == instrument
                              && tags.All(tag => measurement.Tags.Any(actual => actual.Key == tag.Key && Equals(actual.Value?.ToString(), tag.Value))))
        .Select(measurement => measurement.Value);
}
