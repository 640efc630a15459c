using System.Diagnostics.Metrics;
using HdrHistogram;

namespace LstmService.LoadTest;

/// <summary>
/// The in-process service's own view of each step: its <c>lstmkernels.service.step.duration</c> histogram (µs, from
/// <c>StepAsync</c> to its completion, the wait for the batch included), read through a <see cref="MeterListener"/> on
/// this host's <see cref="Meter"/> only, into an HdrHistogram of nanoseconds while a window is open.
/// </summary>
internal sealed class ServerProbe : IDisposable
{
    private readonly MeterListener listener;
    // Nanoseconds, 1 ns to 60 s, three significant digits.
    private readonly LongConcurrentHistogram histogram = new(1, 60_000_000_000L, 3);
    private int recording;

    public ServerProbe(Meter meter)
    {
        listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (ReferenceEquals(instrument.Meter, meter) && instrument.Name == ServiceMetrics.StepDuration)
                {
                    l.EnableMeasurementEvents(instrument, this);
                }
            },
        };

        // Called on the thread that recorded the step (with inline continuations, the batcher's engine thread): one
        // flag read and one lock-free histogram increment.
        listener.SetMeasurementEventCallback<double>(static (_, microseconds, _, state) =>
        {
            var probe = (ServerProbe)state!;
            if (Volatile.Read(ref probe.recording) != 0)
            {
                probe.histogram.RecordValue(Math.Max(1, (long)(microseconds * 1e3)));
            }
        });
        listener.Start();
    }

    /// <summary>Clears the histogram and starts recording.</summary>
    public void Start()
    {
        histogram.Reset();
        Volatile.Write(ref recording, 1);
    }

    /// <summary>Stops recording and returns what was recorded (nanoseconds).</summary>
    public HistogramBase Stop()
    {
        Volatile.Write(ref recording, 0);
        return histogram.Copy();
    }

    public void Dispose() => listener.Dispose();
}
