using System.Runtime.InteropServices;
using Grpc.Core;
using LstmKernels;
using LstmService.V1;

namespace LstmService.Tests;

/// <summary>Inputs, a client that runs them through the service, and the session that says what comes back.</summary>
internal static class Frames
{
    /// <summary><paramref name="count"/> frames of <paramref name="inputSize"/> values in [−1, 1), the same for the same seed.</summary>
    public static float[][] Random(int count, int inputSize, int seed)
    {
        var random = new Random(seed);
        var frames = new float[count][];
        for (int t = 0; t < count; t++)
        {
            frames[t] = new float[inputSize];
            for (int k = 0; k < inputSize; k++)
            {
                frames[t][k] = (random.NextSingle() * 2) - 1;
            }
        }

        return frames;
    }

    public static Frame Message(float[] values)
    {
        var frame = new Frame();
        frame.Values.AddRange(values);
        return frame;
    }

    /// <summary>What an <see cref="LstmSession"/> of <paramref name="lstm"/> outputs for the frames, step by step.</summary>
    public static float[][] Expected(Lstm lstm, float[][] frames)
    {
        LstmSession session = lstm.CreateSession();
        var outputs = new float[frames.Length][];
        for (int t = 0; t < frames.Length; t++)
        {
            outputs[t] = new float[lstm.OutputSize];
            session.Step(frames[t], outputs[t]);
        }

        return outputs;
    }

    /// <summary>One stream: each frame is sent and its output read before the next; then the call is closed and must end OK.</summary>
    public static async Task<float[][]> RunAsync(StreamingLstm.StreamingLstmClient client, float[][] frames)
    {
        using AsyncDuplexStreamingCall<Frame, Frame> call = client.Run();
        var outputs = new float[frames.Length][];
        for (int t = 0; t < frames.Length; t++)
        {
            await call.RequestStream.WriteAsync(Message(frames[t])).WaitAsync(ServiceHost.Timeout);
            outputs[t] = await ReadAsync(call);
        }

        await call.RequestStream.CompleteAsync().WaitAsync(ServiceHost.Timeout);
        Assert.False(await call.ResponseStream.MoveNext().WaitAsync(ServiceHost.Timeout));
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
        return outputs;
    }

    /// <summary>The next output of a call.</summary>
    public static async Task<float[]> ReadAsync(AsyncDuplexStreamingCall<Frame, Frame> call)
    {
        Assert.True(await call.ResponseStream.MoveNext().WaitAsync(ServiceHost.Timeout), "the stream ended before its output");
        return [.. call.ResponseStream.Current.Values];
    }

    /// <summary>The status a call ends with, reading whatever outputs come first (at most <paramref name="maxOutputs"/>).</summary>
    public static async Task<RpcException> ReadUntilFailure(AsyncDuplexStreamingCall<Frame, Frame> call, int maxOutputs = 1000)
    {
        for (int k = 0; k <= maxOutputs; k++)
        {
            try
            {
                if (!await call.ResponseStream.MoveNext().WaitAsync(ServiceHost.Timeout))
                {
                    Assert.Fail($"The call ended with {call.GetStatus()} instead of failing.");
                }
            }
            catch (RpcException e)
            {
                return e;
            }
        }

        throw new InvalidOperationException("More outputs than expected.");
    }

    /// <summary>Asserts the outputs are bitwise the expected ones, naming the first frame and value that differ.</summary>
    public static void AssertBitwiseEqual(float[][] expected, float[][] actual, string stream)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int t = 0; t < expected.Length; t++)
        {
            Assert.Equal(expected[t].Length, actual[t].Length);
            ReadOnlySpan<int> e = MemoryMarshal.Cast<float, int>(expected[t]);
            ReadOnlySpan<int> a = MemoryMarshal.Cast<float, int>(actual[t]);
            int at = e.CommonPrefixLength(a);
            if (at < e.Length)
            {
                Assert.Fail($"{stream}: frame {t}, value {at}: expected {expected[t][at]:R}, got {actual[t][at]:R}.");
            }
        }
    }
}
