using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using CharLstm;
using LstmKernels;
using LstmKernels.Training;

// A character-level LSTM trained on Corpus.Text with the fast training path: LstmTrainer (forward with cache + BPTT
// through every layer), PyTorch's parameterisation (both biases trained), global-norm clipping and Adam; a softmax
// output layer written here with TensorPrimitives. Then the trained weights become an Lstm (packed, fused steps) whose
// streaming session generates text.
//   dotnet run -c Release --project samples/CharLstm [-- --epochs N] [--hidden H] [--layers L]
int epochs = ArgValue(args, "--epochs", 20);
int hidden = ArgValue(args, "--hidden", 96);
int layers = ArgValue(args, "--layers", 1);
const int SeqLen = 32, Batch = 8, StepsPerEpoch = 60;
const float MaxNorm = 5f;

string text = Corpus.Text;
char[] vocab = text.Distinct().Order().ToArray();
int v = vocab.Length;
int[] ids = text.Select(ch => Array.IndexOf(vocab, ch)).ToArray();
Console.WriteLine($"LstmKernels char-level demo: {text.Length} characters, vocabulary {v}, {layers} layer(s) of hidden {hidden}, " +
    $"batch {Batch} × {SeqLen} steps, path {Kernels.ActivePath}");

LstmStackParameters p = LstmStackParameters.CreateRandom(v, hidden, layers, directions: 1, projectionSize: 0, LstmBiasMode.Separate, seed: 1);
LstmStackParameters gradient = p.CreateGradient();
var trainer = new LstmTrainer(p, options: null, Batch, SeqLen);
var adam = new AdamOptimizer(p, learningRate: 5e-3f);

// Output layer: logits = h·Woutᵀ + bout, [V, H] and [V], packed in one span so clipping and Adam see one buffer.
var random = new Random(7);
float[] outParams = new float[(v * hidden) + v];
float scale = 1f / MathF.Sqrt(hidden);
for (int k = 0; k < v * hidden; k++)
{
    outParams[k] = (float)((random.NextDouble() * 2) - 1) * scale;
}

float[] outGrad = new float[outParams.Length], outM = new float[outParams.Length], outV = new float[outParams.Length];
float[] x = new float[SeqLen * Batch * v], outputs = new float[SeqLen * Batch * hidden], dOut = new float[outputs.Length];
float[] probs = new float[v];
int[] targets = new int[SeqLen * Batch];
float[] h0 = new float[layers * Batch * hidden], c0 = new float[layers * Batch * hidden];
int[] cursor = new int[Batch];
for (int b = 0; b < Batch; b++)
{
    cursor[b] = b * (text.Length / Batch);
}

int adamStep = 0;
for (int epoch = 1; epoch <= epochs; epoch++)
{
    var clock = Stopwatch.StartNew();
    double lossSum = 0;
    for (int s = 0; s < StepsPerEpoch; s++)
    {
        // Each batch row streams through the text; the state carries over (truncated BPTT over 32-step windows).
        Array.Clear(x);
        for (int t = 0; t < SeqLen; t++)
        {
            for (int b = 0; b < Batch; b++)
            {
                int at = (cursor[b] + t) % text.Length;
                x[(((t * Batch) + b) * v) + ids[at]] = 1f;
                targets[(t * Batch) + b] = ids[(at + 1) % text.Length];
            }
        }

        // The final states go straight back into h0, c0 (in place is allowed): the next window starts from them.
        trainer.Forward(x, h0, c0, outputs, h0, c0);

        // Softmax cross-entropy and its gradients (output layer here, LSTM through dOut).
        Array.Clear(outGrad);
        Span<float> w = outParams.AsSpan(0, v * hidden), bOut = outParams.AsSpan(v * hidden);
        Span<float> dW = outGrad.AsSpan(0, v * hidden), dB = outGrad.AsSpan(v * hidden);
        double loss = 0;
        float inv = 1f / (SeqLen * Batch);
        for (int r = 0; r < SeqLen * Batch; r++)
        {
            ReadOnlySpan<float> h = outputs.AsSpan(r * hidden, hidden);
            for (int o = 0; o < v; o++)
            {
                probs[o] = TensorPrimitives.Dot(h, w.Slice(o * hidden, hidden)) + bOut[o];
            }

            TensorPrimitives.SoftMax(probs, probs);
            loss -= Math.Log(Math.Max(probs[targets[r]], 1e-30f));
            probs[targets[r]] -= 1f;
            Span<float> dh = dOut.AsSpan(r * hidden, hidden);
            dh.Clear();
            for (int o = 0; o < v; o++)
            {
                float d = probs[o] * inv;
                dB[o] += d;
                TensorPrimitives.MultiplyAdd(h, d, dW.Slice(o * hidden, hidden), dW.Slice(o * hidden, hidden));
                TensorPrimitives.MultiplyAdd(w.Slice(o * hidden, hidden), d, dh, dh);
            }
        }

        lossSum += loss * inv;
        Gradients.Clear(gradient);
        trainer.Backward(dOut, default, default, gradient, default, default, default);
        Gradients.ClipByGlobalNorm(gradient, outGrad, MaxNorm);
        adam.Update(gradient);
        Kernels.AdamUpdate(adam.LearningRate, adam.Beta1, adam.Beta2, adam.Epsilon, ++adamStep, outGrad, outM, outV, outParams);
        for (int b = 0; b < Batch; b++)
        {
            cursor[b] = (cursor[b] + SeqLen) % text.Length;
        }
    }

    double seconds = clock.Elapsed.TotalSeconds;
    int filled = (int)Math.Round(20.0 * epoch / epochs);
    Console.WriteLine(string.Create(
        CultureInfo.InvariantCulture,
        $"epoch {epoch,3}/{epochs} [{new string('#', filled)}{new string('.', 20 - filled)}] loss {lossSum / StepsPerEpoch:F3} (nats/char)  {StepsPerEpoch / seconds:F1} steps/s  {StepsPerEpoch * SeqLen * Batch / seconds / 1000:F1}k chars/s"));
}

// Generation with the trained weights as an Lstm: a streaming session steps every layer with the fused, packed cells.
LstmSession session = p.ToLstm().CreateSession();
float[] hs = new float[hidden], input = new float[v];
var sample = new System.Text.StringBuilder("the ");
foreach (char ch in sample.ToString())
{
    Feed(ch);
}

var sampler = new Random(3);
for (int k = 0; k < 300; k++)
{
    for (int o = 0; o < v; o++)
    {
        probs[o] = (TensorPrimitives.Dot(hs, outParams.AsSpan(o * hidden, hidden)) + outParams[(v * hidden) + o]) / 0.7f;
    }

    TensorPrimitives.SoftMax(probs, probs);
    double u = sampler.NextDouble(), acc = 0;
    int next = v - 1;
    for (int o = 0; o < v; o++)
    {
        acc += probs[o];
        if (u < acc)
        {
            next = o;
            break;
        }
    }

    sample.Append(vocab[next]);
    Feed(vocab[next]);
}

Console.WriteLine();
Console.WriteLine("sample (temperature 0.7):");
Console.WriteLine(sample.ToString());

void Feed(char ch)
{
    Array.Clear(input);
    input[Array.IndexOf(vocab, ch)] = 1f;
    session.Step(input, hs);
}

static int ArgValue(string[] args, string name, int fallback)
{
    int at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length ? int.Parse(args[at + 1], CultureInfo.InvariantCulture) : fallback;
}
