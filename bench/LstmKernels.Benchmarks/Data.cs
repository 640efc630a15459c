namespace LstmKernels.Benchmarks;

/// <summary>Seeded random inputs, so every run and every contender sees the same values.</summary>
internal static class Data
{
    public static float[] Uniform(int length, float bound, int seed)
    {
        var values = new float[length];
        Fill(values, bound, seed);
        return values;
    }

    public static void Fill(Span<float> values, float bound, int seed)
    {
        var random = new Random(seed);
        for (int k = 0; k < values.Length; k++)
        {
            values[k] = (float)(((2 * random.NextDouble()) - 1) * bound);
        }
    }
}
