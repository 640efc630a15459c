using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace LstmService.Tests;

/// <summary>
/// Listens to one host's meter (other tests' hosts run in this process at the same time): counters summed by name and
/// tags (<c>name[tag=value]</c>), observable values as last seen, histograms and gauges of doubles as every value.
/// </summary>
internal sealed class MetricsRecorder : IDisposable
{
    private readonly MeterListener listener;
    private readonly ConcurrentDictionary<string, long> longs = new();
    private readonly ConcurrentDictionary<string, List<double>> doubles = new();

    public MetricsRecorder(Meter meter)
    {
        listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (ReferenceEquals(instrument.Meter, meter))
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            string key = instrument.Name;
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                key += $"[{tag.Key}={tag.Value}]";
            }

            longs.AddOrUpdate(key, value, (_, sum) => instrument.IsObservable ? value : sum + value);
        });
        listener.SetMeasurementEventCallback<int>((instrument, value, _, _) => longs[instrument.Name] = value);
        listener.SetMeasurementEventCallback<double>((instrument, value, _, _) =>
        {
            List<double> list = doubles.GetOrAdd(instrument.Name, _ => []);
            lock (list)
            {
                list.Add(value);
            }
        });
        listener.Start();
    }

    /// <summary>A counter's sum or an observable's last value; 0 if never measured.</summary>
    public long this[string key] => longs.GetValueOrDefault(key);

    public IReadOnlyList<double> Doubles(string name)
    {
        if (!doubles.TryGetValue(name, out List<double>? list))
        {
            return [];
        }

        lock (list)
        {
            return [.. list];
        }
    }

    public void Observe() => listener.RecordObservableInstruments();

    public void Dispose() => listener.Dispose();
}
