using Grpc.Core;
using Grpc.Net.Client;
using LstmService.V1;

namespace LstmService.Tests;

/// <summary>Each fault ends its own stream with a clear status, frees its slot, and costs the other streams nothing.</summary>
public sealed class ServiceFaultTests
{
    [Theory]
    [InlineData(true, -1)]
    [InlineData(true, 1)]
    [InlineData(false, -1)]
    [InlineData(false, 15)]
    public async Task Run_FrameOfWrongLength_InvalidArgumentNamingBothLengths_OthersUnaffected(bool batching, int delta)
    {
        // 15 values too many is still under the message limit (4·I + 64 bytes), so the handler names both lengths.
        await using ServiceHost host = await ServiceHost.StartAsync(new ServiceOptions { Batching = batching }, TestModels.Small());
        int input = host.InputSize;
        Task good = ServiceOutputTests.RunAndCompare(host, host.Engine.Lstm, streams: 4, steps: 60, seed: 400);

        using AsyncDuplexStreamingCall<Frame, Frame> bad = host.Client.Run();
        float[][] frames = Frames.Random(3, input, seed: 7);
        await bad.RequestStream.WriteAsync(Frames.Message(frames[0])).WaitAsync(ServiceHost.Timeout);
        await bad.RequestStream.WriteAsync(Frames.Message(frames[1])).WaitAsync(ServiceHost.Timeout);
        await bad.RequestStream.WriteAsync(Frames.Message(new float[input + delta])).WaitAsync(ServiceHost.Timeout);

        // The two good frames are answered, then the call ends.
        Frames.AssertBitwiseEqual(Frames.Expected(host.Engine.Lstm, frames[..2]), [await Frames.ReadAsync(bad), await Frames.ReadAsync(bad)], "bad stream");
        RpcException e = await Frames.ReadUntilFailure(bad, maxOutputs: 0);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains($"Frame 2 has {input + delta} values", e.Status.Detail, StringComparison.Ordinal);
        Assert.Contains($"input size is {input}", e.Status.Detail, StringComparison.Ordinal);

        await good.WaitAsync(ServiceHost.Timeout);
        await host.WaitForNoStreams();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Run_OverTheStreamCap_ResourceExhausted_UntilAStreamEnds(bool batching)
    {
        const int cap = 4;
        await using ServiceHost host = await ServiceHost.StartAsync(new ServiceOptions { Batching = batching, MaxStreams = cap }, TestModels.Small());
        float[] frame = Frames.Random(1, host.InputSize, seed: 9)[0];
        var open = new List<AsyncDuplexStreamingCall<Frame, Frame>>();
        try
        {
            for (int s = 0; s < cap; s++)
            {
                // One round trip each: the server has admitted the stream.
                AsyncDuplexStreamingCall<Frame, Frame> call = host.Client.Run();
                open.Add(call);
                await call.RequestStream.WriteAsync(Frames.Message(frame)).WaitAsync(ServiceHost.Timeout);
                await Frames.ReadAsync(call);
            }

            Assert.Equal(cap, host.Engine.ActiveStreams);
            using (AsyncDuplexStreamingCall<Frame, Frame> over = host.Client.Run())
            {
                RpcException e = await Frames.ReadUntilFailure(over, maxOutputs: 0);
                Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
                Assert.Contains($"{cap} streams open", e.Status.Detail, StringComparison.Ordinal);
            }

            // The open streams still work, and one ending frees a slot for a new one.
            await open[0].RequestStream.CompleteAsync().WaitAsync(ServiceHost.Timeout);
            Assert.False(await open[0].ResponseStream.MoveNext().WaitAsync(ServiceHost.Timeout));
            await ServiceHost.WaitUntil(() => host.Engine.ActiveStreams == cap - 1, "a slot is free");
            float[][] frames = Frames.Random(5, host.InputSize, seed: 10);
            Frames.AssertBitwiseEqual(Frames.Expected(host.Engine.Lstm, frames), await Frames.RunAsync(host.Client, frames), "stream after the cap");
        }
        finally
        {
            foreach (AsyncDuplexStreamingCall<Frame, Frame> call in open)
            {
                call.Dispose();
            }
        }

        await host.WaitForNoStreams();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Run_AbruptCancellations_FreeEverySlot_NoErrorLogged(bool batching)
    {
        const int calls = 200;
        await using ServiceHost host = await ServiceHost.StartAsync(new ServiceOptions { Batching = batching, MaxStreams = 64 }, TestModels.Small());
        float[][] frames = Frames.Random(2, host.InputSize, seed: 11);

        // 8 clients at a time, each ending its call a different way, mid-stream.
        await Parallel.ForAsync(0, calls, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, loop) =>
        {
            using var cancel = new CancellationTokenSource();
            AsyncDuplexStreamingCall<Frame, Frame> call = host.Client.Run(cancellationToken: cancel.Token);
            try
            {
                switch (i % 4)
                {
                    case 0:
                        // Cancelled before the first frame.
                        break;
                    case 1:
                        // A frame sent, its output never read.
                        await call.RequestStream.WriteAsync(Frames.Message(frames[0]), cancel.Token).WaitAsync(ServiceHost.Timeout, loop);
                        break;
                    case 2:
                        // One round trip, then a second frame in flight.
                        await call.RequestStream.WriteAsync(Frames.Message(frames[0]), cancel.Token).WaitAsync(ServiceHost.Timeout, loop);
                        await Frames.ReadAsync(call);
                        await call.RequestStream.WriteAsync(Frames.Message(frames[1]), cancel.Token).WaitAsync(ServiceHost.Timeout, loop);
                        break;
                    default:
                        // One round trip, then the call is disposed rather than cancelled.
                        await call.RequestStream.WriteAsync(Frames.Message(frames[0]), cancel.Token).WaitAsync(ServiceHost.Timeout, loop);
                        await Frames.ReadAsync(call);
                        call.Dispose();
                        return;
                }

                await cancel.CancelAsync();
                RpcException e = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext().WaitAsync(ServiceHost.Timeout, loop));
                Assert.Equal(StatusCode.Cancelled, e.StatusCode);
            }
            finally
            {
                call.Dispose();
            }
        }).WaitAsync(ServiceHost.Timeout);

        await host.WaitForNoStreams();
        Assert.True(host.Logs.Errors.Count == 0, string.Join("\n", host.Logs.Errors));

        // The service still serves, with correct outputs.
        float[][] after = Frames.Random(10, host.InputSize, seed: 12);
        Frames.AssertBitwiseEqual(Frames.Expected(host.Engine.Lstm, after), await Frames.RunAsync(host.Client, after), "stream after the cancellations");
        await host.WaitForNoStreams();
    }

    [Fact]
    public async Task Run_PastItsDeadline_DeadlineExceeded_SlotFreed()
    {
        await using ServiceHost host = await ServiceHost.StartAsync(model: TestModels.Small());
        await host.Client.InfoAsync(new InfoRequest()).ResponseAsync.WaitAsync(ServiceHost.Timeout);
        float[] frame = Frames.Random(1, host.InputSize, seed: 13)[0];
        var calls = new Task[4];
        for (int s = 0; s < calls.Length; s++)
        {
            calls[s] = Task.Run(async () =>
            {
                using AsyncDuplexStreamingCall<Frame, Frame> call = host.Client.Run(deadline: DateTime.UtcNow.AddMilliseconds(500));

                // A frame and (unless the deadline beats them) its output, then silence: the server's read waits when
                // the deadline passes.
                RpcException e;
                try
                {
                    await call.RequestStream.WriteAsync(Frames.Message(frame)).WaitAsync(ServiceHost.Timeout);
                    e = await Frames.ReadUntilFailure(call, maxOutputs: 1);
                }
                catch (RpcException early)
                {
                    e = early;
                }

                Assert.Equal(StatusCode.DeadlineExceeded, e.StatusCode);
            });
        }

        await Task.WhenAll(calls).WaitAsync(ServiceHost.Timeout);
        await host.WaitForNoStreams();
        Assert.True(host.Logs.Errors.Count == 0, string.Join("\n", host.Logs.Errors));
    }

    [Fact]
    public async Task Run_MessageOverTheLimit_RefusedByGrpcWithResourceExhausted_OthersUnaffected()
    {
        await using ServiceHost host = await ServiceHost.StartAsync();
        Task good = ServiceOutputTests.RunAndCompare(host, host.Engine.Lstm, streams: 3, steps: 30, seed: 500);

        // 4·I + 64 bytes is the limit: I + 16 values (4·I + 64 bytes of floats, plus tag and length) is over it.
        foreach (int values in new[] { host.InputSize + 16, 100 * host.InputSize })
        {
            using AsyncDuplexStreamingCall<Frame, Frame> call = host.Client.Run();
            await call.RequestStream.WriteAsync(Frames.Message(new float[values])).WaitAsync(ServiceHost.Timeout);
            RpcException e = await Frames.ReadUntilFailure(call, maxOutputs: 0);
            Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
        }

        await good.WaitAsync(ServiceHost.Timeout);
        await host.WaitForNoStreams();
    }

    [Fact]
    public async Task Run_ClientThatNeverReads_DoesNotStallOtherStreams()
    {
        await using ServiceHost host = await ServiceHost.StartAsync(model: TestModels.Small());
        using GrpcChannel slowChannel = host.NewChannel();
        var slowClient = new StreamingLstm.StreamingLstmClient(slowChannel);
        using var cancelSlow = new CancellationTokenSource();
        AsyncDuplexStreamingCall<Frame, Frame> slow = slowClient.Run(cancellationToken: cancelSlow.Token);
        try
        {
            // Write without reading until a write stalls: the server's write to this client waits on HTTP/2 flow
            // control, so its handler stops reading, and the client's writes fill the request window.
            Frame frame = Frames.Message(Frames.Random(1, host.InputSize, seed: 14)[0]);
            Task? stalled = null;
            for (int k = 0; k < 50_000 && stalled is null; k++)
            {
                Task write = slow.RequestStream.WriteAsync(frame, cancelSlow.Token);
                if (await Task.WhenAny(write, Task.Delay(250)) != write)
                {
                    stalled = write;
                }
                else
                {
                    await write;
                }
            }

            Assert.NotNull(stalled);
            Assert.Equal(1, host.Engine.ActiveStreams);

            // Other streams run meanwhile, with correct outputs: the slow stream's handler waits in its own write,
            // holding no step in the batcher and no thread.
            await ServiceOutputTests.RunAndCompare(host, host.Engine.Lstm, streams: 4, steps: 50, seed: 600);
            Assert.Equal(1, host.Engine.ActiveStreams);

            // Cancelling the stalled client frees its slot, though its handler was blocked in a write.
            await cancelSlow.CancelAsync();
            try
            {
                await stalled.WaitAsync(ServiceHost.Timeout);
            }
            catch (Exception e) when (e is RpcException or OperationCanceledException)
            {
            }
        }
        finally
        {
            slow.Dispose();
        }

        await host.WaitForNoStreams();
        Assert.True(host.Logs.Errors.Count == 0, string.Join("\n", host.Logs.Errors));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Shutdown_EndsOpenStreamsWithUnavailable_AfterTheirStepInFlight(bool batching)
    {
        ServiceHost host = await ServiceHost.StartAsync(new ServiceOptions { Batching = batching }, TestModels.Small());
        await using (host)
        {
            using var metrics = new MetricsRecorder(host.Metrics.Meter);
            float[][] frames = Frames.Random(3, host.InputSize, seed: 15);
            float[][] expected = Frames.Expected(host.Engine.Lstm, frames);
            var calls = new AsyncDuplexStreamingCall<Frame, Frame>[3];
            try
            {
                for (int s = 0; s < calls.Length; s++)
                {
                    calls[s] = host.Client.Run();
                    for (int t = 0; t < 2; t++)
                    {
                        await calls[s].RequestStream.WriteAsync(Frames.Message(frames[t])).WaitAsync(ServiceHost.Timeout);
                        Frames.AssertBitwiseEqual([expected[t]], [await Frames.ReadAsync(calls[s])], $"stream {s}");
                    }
                }

                // The third frame races the shutdown: if the server took it, its output comes before the status.
                foreach (AsyncDuplexStreamingCall<Frame, Frame> call in calls)
                {
                    await call.RequestStream.WriteAsync(Frames.Message(frames[2])).WaitAsync(ServiceHost.Timeout);
                }

                // Each client is reading (as a client's read loop would be) when the service stops.
                Task<RpcException>[] ends = [.. calls.Select(call => Assert.ThrowsAsync<RpcException>(async () =>
                {
                    if (await call.ResponseStream.MoveNext().WaitAsync(ServiceHost.Timeout))
                    {
                        Frames.AssertBitwiseEqual([expected[2]], [[.. call.ResponseStream.Current.Values]], "the step in flight");
                        await call.ResponseStream.MoveNext().WaitAsync(ServiceHost.Timeout);
                    }
                }))];
                await host.StopAsync();
                foreach (RpcException e in await Task.WhenAll(ends).WaitAsync(ServiceHost.Timeout))
                {
                    // The service sent UNAVAILABLE (counted below); a .NET client that is slow to read it when the
                    // connection closes after the drain's linger can report INTERNAL instead (LstmEngine.StoppingAsync).
                    bool connectionClosedFirst = e.StatusCode == StatusCode.Internal && e.Status.Detail.Contains("server closed the connection", StringComparison.Ordinal);
                    Assert.True(e.StatusCode == StatusCode.Unavailable || connectionClosedFirst, e.Status.ToString());
                }
            }
            finally
            {
                foreach (AsyncDuplexStreamingCall<Frame, Frame>? call in calls)
                {
                    call?.Dispose();
                }
            }

            Assert.Equal(3, metrics[$"{ServiceMetrics.EndedStreams}[status=unavailable]"]);
            Assert.False(host.Engine.IsReady);
            Assert.Equal(0, host.Engine.ActiveStreams);
            if (host.Engine.Batcher is { } batcher)
            {
                Assert.Equal(0, batcher.OpenStreams);
                Assert.Throws<ObjectDisposedException>(() => batcher.Open());
            }

            Assert.True(host.Logs.Errors.Count == 0, string.Join("\n", host.Logs.Errors));
        }
    }
}
