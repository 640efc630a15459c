using System.Diagnostics;
using Grpc.Core;
using HdrHistogram;
using LstmService.V1;

namespace LstmService.LoadTest;

/// <summary>
/// One client stream, a closed loop on one gRPC call: write a frame, await its output frame, repeat, until the window
/// ends, the run's cap on steps, an error, or the abort token. Steps that complete inside the window are counted and
/// their latency (write to output, client side) recorded.
/// </summary>
internal sealed class ClosedLoop
{
    /// <summary>Frames each stream cycles through.</summary>
    private const int FrameCount = 8;

    private readonly Frame[] frames = new Frame[FrameCount];

    public ClosedLoop(int stream, int inputSize, int outputSize)
    {
        var random = new Random(1_000 + stream);
        for (int k = 0; k < frames.Length; k++)
        {
            var frame = new Frame();
            frame.Values.Capacity = inputSize;
            for (int i = 0; i < inputSize; i++)
            {
                frame.Values.Add((random.NextSingle() * 2) - 1);
            }

            frames[k] = frame;
        }

        OutputSize = outputSize;
    }

    public int OutputSize { get; }

    /// <summary>End-to-end latency of the steps that completed in the window, in <see cref="Stopwatch"/> ticks.</summary>
    public LongHistogram Latency { get; } = new(1, Stopwatch.Frequency * 60, 3);

    /// <summary>Steps that completed in the window.</summary>
    public long Counted { get; private set; }

    /// <summary>Steps taken in the run, warm-up included.</summary>
    public long Total { get; private set; }

    /// <summary>Whether the loop stopped at its cap before the window ended.</summary>
    public bool Capped { get; private set; }

    public int Errors { get; private set; }

    public string? FirstError { get; private set; }

    /// <param name="client">The connection to load.</param>
    /// <param name="windowStart">The window's start, a <see cref="Stopwatch"/> timestamp.</param>
    /// <param name="windowEnd">The window's end; no step starts after it.</param>
    /// <param name="cap">The most steps this loop takes.</param>
    /// <param name="deadline">The call's gRPC deadline.</param>
    /// <param name="abort">Cancels the call (the run's hard time limit).</param>
    public async Task RunAsync(StreamingLstm.StreamingLstmClient client, long windowStart, long windowEnd, long cap, DateTime deadline, CancellationToken abort)
    {
        try
        {
            using AsyncDuplexStreamingCall<Frame, Frame> call = client.Run(deadline: deadline, cancellationToken: abort);
            IAsyncStreamReader<Frame> responses = call.ResponseStream;
            int k = 0;
            while (true)
            {
                long started = Stopwatch.GetTimestamp();
                if (started >= windowEnd)
                {
                    break;
                }

                if (Total >= cap)
                {
                    Capped = true;
                    break;
                }

                // The call's own token (abort) cancels a write in flight; no token of its own per write.
                await call.RequestStream.WriteAsync(frames[k++ % FrameCount], CancellationToken.None).ConfigureAwait(false);
                if (!await responses.MoveNext(CancellationToken.None).ConfigureAwait(false))
                {
                    Fail($"the service ended the stream after {Total} steps with {call.GetStatus()}");
                    return;
                }

                long done = Stopwatch.GetTimestamp();
                Total++;
                if (responses.Current.Values.Count != OutputSize)
                {
                    Fail($"an output of {responses.Current.Values.Count} values, not {OutputSize}");
                }

                if (done >= windowStart && done < windowEnd)
                {
                    Counted++;
                    Latency.RecordValue(done - started);
                }
            }

            await call.RequestStream.CompleteAsync().ConfigureAwait(false);
            while (await responses.MoveNext(CancellationToken.None).ConfigureAwait(false))
            {
                Fail("an output frame after the last input frame");
            }

            Status status = call.GetStatus();
            if (status.StatusCode != StatusCode.OK)
            {
                Fail($"the call ended with {status}");
            }
        }
        catch (RpcException e)
        {
            Fail($"{e.StatusCode}: {e.Status.Detail}");
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or OperationCanceledException)
        {
            Fail($"{e.GetType().Name}: {e.Message}");
        }
    }

    private void Fail(string error)
    {
        Errors++;
        FirstError ??= error;
    }
}
