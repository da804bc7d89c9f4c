using EasyIm.Contracts.Gateway;
using EasyIm.Contracts.Messaging;
using EasyIm.Messaging.Sending;

namespace EasyIm.UnitTests.Messaging;

/// <summary>The chain that keeps a connection's messages in send order across lost batches.</summary>
public sealed class SubmissionChainTests
{
    private const long Sender = 7;

    private static ChatSubmission S(string connection, string id, string? previous) =>
        new(Sender, connection, new WireMessage { ClientMsgId = id, Content = id }, previous);

    private static Func<IReadOnlyCollection<(long, string)>, Task<HashSet<(long, string)>>> Stored(params string[] ids) =>
        keys => Task.FromResult(keys.Where(k => ids.Contains(k.Item2)).ToHashSet());

    private static readonly Func<IReadOnlyCollection<(long, string)>, Task<HashSet<(long, string)>>> NeverAsked =
        _ => throw new InvalidOperationException("the database must not be asked about a known connection");

    [Fact]
    public async Task A_connections_messages_in_order_are_accepted_without_asking_the_database()
    {
        var chain = new SubmissionChain();
        var (accepted, refused) = await chain.CheckAsync([S("c", "m0", null), S("c", "m1", "m0")], NeverAsked);
        var (more, refusedLater) = await chain.CheckAsync([S("c", "m2", "m1")], NeverAsked);

        Assert.Equal(["m0", "m1"], accepted.Select(s => s.Message.ClientMsgId));
        Assert.Equal(["m2"], more.Select(s => s.Message.ClientMsgId));
        Assert.Empty(refused);
        Assert.Empty(refusedLater);
    }

    [Fact]
    public async Task After_a_lost_message_the_connection_is_refused_until_it_is_forgotten()
    {
        var chain = new SubmissionChain();
        await chain.CheckAsync([S("c", "m0", null)], NeverAsked);

        // m1 was lost (not stored either): m2 names it, and everything after m2 on the connection is refused too.
        var (accepted, refused) = await chain.CheckAsync([S("c", "m2", "m1"), S("c", "m3", "m2")], Stored("m0"));
        var (_, stillRefused) = await chain.CheckAsync([S("c", "m4", "m3")], NeverAsked);
        var (other, _) = await chain.CheckAsync([S("d", "x0", null)], NeverAsked);

        Assert.Empty(accepted);
        Assert.Equal(["m2", "m3"], refused.Select(s => s.Message.ClientMsgId));
        Assert.Single(stillRefused);
        Assert.Single(other); // other connections are not affected

        // The client reconnects (a new connection) and resends in order; the old connection's end is forgotten.
        chain.Forget("c");
        var (resent, none) = await chain.CheckAsync([S("c2", "m1", null), S("c2", "m2", "m1")], NeverAsked);
        Assert.Equal(["m1", "m2"], resent.Select(s => s.Message.ClientMsgId));
        Assert.Empty(none);
    }

    [Fact]
    public async Task A_connection_whose_partition_was_consumed_elsewhere_meanwhile_is_accepted_when_its_previous_message_is_stored()
    {
        var chain = new SubmissionChain();
        await chain.CheckAsync([S("c", "m0", null), S("c", "m1", "m0")], NeverAsked);

        // The partition was handed to another process, which stored m2..m5, and came back: this process still
        // remembers m1. m6 names m5, which is stored, so it is accepted (asking once), and m7 after it without asking.
        var asked = new List<(long, string)>();
        var (accepted, refused) = await chain.CheckAsync([S("c", "m6", "m5"), S("c", "m7", "m6")], keys =>
        {
            asked.AddRange(keys);
            return Stored("m5")(keys);
        });
        var (more, _) = await chain.CheckAsync([S("c", "m8", "m7")], NeverAsked);

        Assert.Equal([(Sender, "m5")], asked);
        Assert.Equal(["m6", "m7"], accepted.Select(s => s.Message.ClientMsgId));
        Assert.Empty(refused);
        Assert.Equal(["m8"], more.Select(s => s.Message.ClientMsgId));
    }

    [Fact]
    public async Task A_connection_new_to_this_process_is_accepted_only_when_its_previous_message_is_stored()
    {
        var chain = new SubmissionChain();

        var (kept, _) = await chain.CheckAsync([S("a", "a5", "a4"), S("a", "a6", "a5")], Stored("a4"));
        var (_, refused) = await chain.CheckAsync([S("b", "b5", "b4"), S("b", "b6", "b5")], Stored("a4"));

        Assert.Equal(["a5", "a6"], kept.Select(s => s.Message.ClientMsgId));
        Assert.Equal(["b5", "b6"], refused.Select(s => s.Message.ClientMsgId));
    }

    [Fact]
    public async Task When_the_database_cannot_answer_new_connections_are_refused_and_known_ones_go_on()
    {
        var chain = new SubmissionChain();
        await chain.CheckAsync([S("known", "k0", null)], NeverAsked);

        var (accepted, refused) = await chain.CheckAsync([S("known", "k1", "k0"), S("new", "n5", "n4")],
            _ => throw new TimeoutException("database down"));

        Assert.Equal(["k1"], accepted.Select(s => s.Message.ClientMsgId));
        Assert.Equal(["n5"], refused.Select(s => s.Message.ClientMsgId));
    }

    [Fact]
    public async Task Messages_without_a_client_msg_id_do_not_break_the_chain()
    {
        var chain = new SubmissionChain();
        var noId = new ChatSubmission(Sender, "c", new WireMessage { Content = "anonymous" }, "m0");

        var (accepted, refused) = await chain.CheckAsync([S("c", "m0", null), noId, S("c", "m1", "m0")], NeverAsked);

        Assert.Equal(3, accepted.Count);
        Assert.Empty(refused);
    }

    [Fact]
    public async Task A_dead_gateways_connections_are_forgotten_and_checked_in_the_database_if_they_come_again()
    {
        var chain = new SubmissionChain();
        await chain.CheckAsync([S("g1:1", "a0", null), S("g1:2", "b0", null), S("g10:1", "c0", null)], NeverAsked);

        Assert.Equal(2, chain.ForgetGateway("g1"));

        // g10's connection is still remembered (no question); g1's is asked about, as a new connection.
        var asked = new List<(long, string)>();
        var (accepted, refused) = await chain.CheckAsync([S("g10:1", "c1", "c0"), S("g1:1", "a1", "a0")], keys =>
        {
            asked.AddRange(keys);
            return Stored("a0")(keys);
        });
        Assert.Equal(["c1", "a1"], accepted.Select(s => s.Message.ClientMsgId));
        Assert.Empty(refused);
        Assert.Single(asked);
    }
}

