namespace CharLstm;

/// <summary>The training text, shipped in the program (no download). Written for this demo.</summary>
internal static class Corpus
{
    public const string Text =
        "the cell keeps a memory. the input gate decides what to write, the forget gate decides what to keep, " +
        "and the output gate decides what to show. the candidate is a new idea; the memory is the old one. " +
        "a step reads the input and the last hidden state, mixes them with four sets of weights, and squashes " +
        "the result: three gates through the sigmoid, one candidate through the tanh. then the memory is updated " +
        "and the hidden state is read out of it. " +
        "to learn, the network runs forward over a sequence and keeps what it saw. then it runs backward, from the " +
        "last step to the first, and asks of every weight: how much did you change the loss? the answers are the " +
        "gradients. the forget gate's answer needs the memory of the step before, not the memory of this step. " +
        "the memory's gradient flows back through the forget gate, step after step, and that is why the cell can " +
        "remember for a long time. an optimizer then moves every weight a little against its gradient, and the " +
        "loss falls. when the gradients grow too large, they are clipped to a fixed norm, and training goes on. " +
        "the kernels do this without allocating: every buffer is made once, and every step reuses them. " +
        "the reference does the same in plain loops and in double precision, so that the fast path can be checked " +
        "against it, number by number, on every vector width the machine has. ";
}
