using LstmService.LoadTest;

namespace LstmService.Tests;

/// <summary>The soak runs alone: it reads the process's heap, which other tests' hosts would move.</summary>
[CollectionDefinition(nameof(SoakRunsAlone), DisableParallelization = true)]
public sealed class SoakRunsAlone;

/// <summary>
/// Thousands of clients that leave abruptly (connection reset mid-step and after a round trip, cancel, deadline): every
/// slot comes back, nothing leaks per stream, and the service logs nothing. The load test's <c>--disconnects 10000</c>
/// runs the same soak at ten times the count (docs/serving.md).
/// </summary>
[Collection(nameof(SoakRunsAlone))]
public sealed class DisconnectSoakTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Run_ThousandsOfAbruptDisconnects_GaugeBackToZero_HeapFlat(bool batching)
    {
        // 400 to warm up (pools, JIT), then 1600 more: a stream that leaked its LSTM state (2 layers × 40 × 2 floats,
        // plus the batcher's or session's objects, over 1 KB) would grow the heap by more than the 1 MB bound.
        const int Warmup = 400, Count = 2000;
        const long Bound = 1 << 20;
        await using ServiceHost host = await ServiceHost.StartAsync(new ServiceOptions { Batching = batching, MaxStreams = 64 }, TestModels.Small());
        var (checkpoints, unexpected, first) = await DisconnectSoak.RunAsync(
            host.Address, host.InputSize, Count, Warmup, parallel: 16, () => (host.Engine.ActiveStreams, host.Engine.Batcher?.OpenStreams ?? 0));

        Assert.True(unexpected == 0, first);
        Assert.All(checkpoints, c => Assert.Equal((0, 0), (c.ActiveStreams, c.OpenSlots)));
        Assert.True(host.Logs.Errors.Count == 0, string.Join("\n", host.Logs.Errors));
        // The smaller of the last two checkpoints: a leak grows the heap at every one of them (1.5 KB a stream is 1.8 MB by
        // the second-to-last), while a one-off growth of a pool between the last two (3 MB once on the scalar leg,
        // 2026-12-03) is not a leak.
        long growth = Math.Min(checkpoints[^1].HeapBytes, checkpoints[^2].HeapBytes) - checkpoints[0].HeapBytes;
        Assert.True(
            growth < Bound,
            $"The heap grew {growth} B over {Count - Warmup} disconnects ({string.Join(", ", checkpoints.Select(c => $"{c.Disconnects}: {c.HeapBytes} B"))}).");

        // The service still serves, with correct outputs.
        float[][] after = Frames.Random(10, host.InputSize, seed: 14);
        Frames.AssertBitwiseEqual(Frames.Expected(host.Engine.Lstm, after), await Frames.RunAsync(host.Client, after), "stream after the soak");
    }
}
