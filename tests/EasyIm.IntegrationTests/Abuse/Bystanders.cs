using EasyIm.IntegrationTests.Faults;
using EasyIm.IntegrationTests.Shapes;

namespace EasyIm.IntegrationTests.Abuse;

/// <summary>
/// Two friends who chat while an attack runs: the abuse suite's proof that one hostile user hurts only
/// itself. The sender sends numbered messages (a few in flight, reconnecting and resending like a careful
/// client); <see cref="VerifyAsync"/> then checks that every one was acked and delivered exactly once, in
/// order, with no FAIL and no reconnect. Bounded in count and time; loopback only.
/// </summary>
public sealed class Bystanders
{
    private readonly ChatTraffic _traffic;

    private Bystanders(ChatTraffic traffic) => _traffic = traffic;

    public TestUser Sender { get; private init; } = null!;
    public TestUser Receiver { get; private init; } = null!;

    /// <summary>Makes a pair of friends on <paramref name="shape"/> and starts their chat; returns once the first messages are acked.</summary>
    /// <param name="tokens">On a server whose tokens live seconds: the bystanders renew their connections with fresh tokens from it.</param>
    public static async Task<Bystanders> StartAsync(EasyImShape shape, int messages = 150, TimeSpan? sendFor = null, RenewingTokens? tokens = null)
    {
        var sender = await shape.NewUserAsync("bystander-a");
        var receiver = await shape.NewUserAsync("bystander-b");
        await shape.MakeFriendsAsync(sender, receiver);
        // The shapes drop a connection silent for 6 s, and an attack may outlast the bystanders' messages.
        var traffic = new ChatTraffic(() => [shape.SocketPort], [(sender, receiver)], messages, sendFor ?? TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(2), tokens);
        await traffic.StartAsync();
        await traffic.WaitForAckedAsync(Math.Min(5, messages), TimeSpan.FromSeconds(30));
        return new Bystanders(traffic) { Sender = sender, Receiver = receiver };
    }

    /// <summary>Messages acked so far: an attack should run while this still grows.</summary>
    public int Acked => _traffic.Acked;

    /// <summary>
    /// Waits for the rest of the bystanders' messages and asserts that every one was acked SENT and
    /// delivered once, in order, with no FAIL answered and no reconnect (a connection the server closed under a bystander would have had to reconnect).
    /// </summary>
    public async Task VerifyAsync()
    {
        await _traffic.StopAndVerifyAsync(TimeSpan.FromSeconds(30));
        var counts = $"{_traffic.Acked} of {_traffic.Total} acked, {_traffic.Fails} FAIL, {_traffic.Closes} closed under the sender, {_traffic.Reconnects} reconnects" +
            (_traffic.CloseReasons.IsEmpty ? "" : $" (why: {string.Join("; ", _traffic.CloseReasons)})");
        Assert.True(_traffic.Fails == 0 && _traffic.Reconnects == 0 && _traffic.Acked == _traffic.Total, "the bystanders were hurt: " + counts);
    }
}
