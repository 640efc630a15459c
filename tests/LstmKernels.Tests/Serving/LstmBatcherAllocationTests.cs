// A step that runs at once returns a completed ValueTask, looked at and dropped (nothing to consume).
#pragma warning disable CA2012

namespace LstmKernels.Tests;

/// <summary>
/// Zero allocation per step in steady state, on every path a step can take: run at once on the caller (sync and async),
/// and queued behind a running batch (a blocked sync caller, an awaiting async caller whose continuation the thread
/// pool runs, the engine thread). Runs alone: the queued path is measured process-wide.
/// </summary>
[Collection(nameof(RunsAlone))]
public sealed class LstmBatcherAllocationTests
{
    [Fact]
    public void AStepThatRunsAtOnce_AllocatesNothing_SyncOrAsync()
    {
        using var batcher = new LstmBatcher(LstmBatcherTests.Model(), 8);
        using LstmStream stream = batcher.Open();
        float[] x = LstmBatcherTests.Input(1), y = new float[batcher.Lstm.StateSize];
        Assert.Equal(0, Allocation.Measure(() => stream.Step(x, y)));
        Assert.Equal(0, Allocation.Measure(() =>
        {
            if (!stream.StepAsync(x, y).IsCompletedSuccessfully)
            {
                throw new InvalidOperationException("An idle batcher should have run the step at once.");
            }
        }));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task QueuedSteps_AllocateNothing(bool asyncContinuations)
    {
        // 64 x 128: a step long enough (tens of µs) for the three loops to meet often.
        using var batcher = new LstmBatcher(Lstm.Create([LstmParameters.CreateRandom(LstmBatcherTests.InputSize, 128, 3)]), 8, new LstmBatcherOptions { RunContinuationsAsynchronously = asyncContinuations });
        using LstmStream a = batcher.Open(), b = batcher.Open(), c = batcher.Open();
        float[] x = LstmBatcherTests.Input(1);

        // Three closed loops (one blocking, two awaiting with a cancellable token) that keep the engine busy, so steps queue up behind each other.
        const int Steps = 2000;
        long least = long.MaxValue;
        for (int window = 0; window < 4; window++)
        {
            long stepsBefore = batcher.StepCount, batchesBefore = batcher.BatchCount;
            long before = GC.GetTotalAllocatedBytes(precise: true);
            Task sync = Task.Factory.StartNew(() => SyncLoop(a, x, Steps), TaskCreationOptions.LongRunning);
            Task async1 = AsyncLoop(b, x, Steps);
            Task async2 = AsyncLoop(c, x, Steps);
            await Task.WhenAll(sync, async1, async2);
            long bytes = GC.GetTotalAllocatedBytes(precise: true) - before;

            // Process-wide, so the window's own fixed costs count too: three tasks, their state machines, a long-running
            // thread (about 2.5 KB), and the runtime's own now and then (pool threads injected under load: 13-27 KB
            // seen in a window on the slower SIMD paths). The bound is 12 B a step, half the smallest object: an
            // allocation on every step cannot pass it.
            Assert.Equal(3L * Steps, batcher.StepCount - stepsBefore);
            least = window == 0 ? long.MaxValue : Math.Min(least, bytes);
        }

        Assert.True(batcher.BatchCount < batcher.StepCount, "no step was ever queued: the test did not exercise batching");
        Assert.True(least < 12 * 3 * Steps, $"{least} bytes for {3 * Steps} steps: the queued path allocates per step");
    }

    private static void SyncLoop(LstmStream stream, float[] x, int steps)
    {
        float[] y = new float[stream.Batcher.Lstm.StateSize];
        for (int k = 0; k < steps; k++)
        {
            stream.Step(x, y);
        }
    }

    private static async Task AsyncLoop(LstmStream stream, float[] x, int steps)
    {
        await Task.Yield();
        Memory<float> y = new float[stream.Batcher.Lstm.StateSize];

        // A cancellable token, as a server's per-call token is: a queued step registers on it and unregisters.
        using var call = new CancellationTokenSource();
        for (int k = 0; k < steps; k++)
        {
            await stream.StepAsync(x, y, call.Token);
        }
    }
}
