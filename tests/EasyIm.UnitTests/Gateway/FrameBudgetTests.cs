using EasyIm.Gateway;
using EasyIm.Gateway.Connections;
using EasyIm.Hosting;
using Microsoft.Extensions.Time.Testing;

namespace EasyIm.UnitTests.Gateway;

/// <summary>
/// The budgets of a connection and of a user: System.Threading.RateLimiting token buckets, refilled by the
/// gateway's tick; refusals counted on the connection's clock (here a fake one).
/// </summary>
public sealed class FrameBudgetTests
{
    private static GatewayOptions Options(Action<GatewayOptions.BudgetOptions>? budgets = null)
    {
        var options = new GatewayOptions();
        options.RateLimit = new GatewayOptions.RateLimitOptions { PerSecond = 3, Burst = 5 };
        budgets?.Invoke(options.Budgets);
        return options;
    }

    /// <summary>Tokens accrue with elapsed time and are added by the tick; polls the tick until one is there, for at most two seconds.</summary>
    private static bool TokenArrivesAfterTicks(ConnectionBudgets budgets, FrameKind kind)
    {
        var deadline = DateTime.UtcNow.AddSeconds(2);
        while (DateTime.UtcNow < deadline)
        {
            budgets.Replenish();
            if (budgets.TryTake(kind) is null)
                return true;
            Thread.Yield();
        }
        return false;
    }

    [Fact]
    public void Each_kind_has_its_own_burst_then_is_refused_naming_its_budget()
    {
        var options = Options(b => b.Sync = new GatewayOptions.Budget { PerSecond = 0.5, Burst = 2 });
        var budgets = new ConnectionBudgets(options, new FakeTimeProvider());

        Assert.All(Enumerable.Range(0, 5), _ => Assert.Null(budgets.TryTake(FrameKind.Chat)));
        var chat = budgets.TryTake(FrameKind.Chat);
        Assert.Null(budgets.TryTake(FrameKind.Sync));
        Assert.Null(budgets.TryTake(FrameKind.Sync));
        var sync = budgets.TryTake(FrameKind.Sync);

        Assert.Equal("chat messages and TYPING are over budget (5 at once, then 3 per second, on this connection)", chat!.Describe());
        Assert.Equal("SYNC requests are over budget (2 at once, then one every 2 seconds, on this connection)", sync!.Describe());
        // The others are untouched.
        Assert.Null(budgets.TryTake(FrameKind.KeepAlive));
        Assert.Null(budgets.TryTake(FrameKind.Receipt));
        Assert.Null(budgets.TryTake(FrameKind.FriendEvent));
    }

    [Fact]
    public void Tokens_come_back_only_through_the_tick_and_never_above_the_burst()
    {
        var options = Options(b => b.Receipts = new GatewayOptions.Budget { PerSecond = 1000, Burst = 5 });
        var budgets = new ConnectionBudgets(options, TimeProvider.System);
        for (var i = 0; i < 5; i++)
            Assert.Null(budgets.TryTake(FrameKind.Receipt));
        Assert.NotNull(budgets.TryTake(FrameKind.Receipt));

        Assert.True(TokenArrivesAfterTicks(budgets, FrameKind.Receipt));
        var deadline = DateTime.UtcNow.AddMilliseconds(50);
        while (DateTime.UtcNow < deadline)
            budgets.Replenish();
        // Once more after the deadline: a thread descheduled through the whole window made no call in it, and the
        // bucket adds for the time since its last refill, so this one call alone brings 50 ms of tokens (50, capped at 5).
        budgets.Replenish();
        Assert.Equal(5, Enumerable.Range(0, 8).Count(_ => budgets.TryTake(FrameKind.Receipt) is null));
    }

    [Fact]
    public void A_fractional_rate_is_a_token_every_so_many_seconds()
    {
        var bucket = new FrameBudget(FrameKind.Sync, 0.25, 3, false).BucketOptions();

        Assert.Equal((3, 1, TimeSpan.FromSeconds(4), false, 0), (bucket.TokenLimit, bucket.TokensPerPeriod, bucket.ReplenishmentPeriod, bucket.AutoReplenishment, bucket.QueueLimit));
        var fast = new FrameBudget(FrameKind.Chat, 2.5, 10, false).BucketOptions();
        Assert.Equal(2.5, fast.TokensPerPeriod / fast.ReplenishmentPeriod.TotalSeconds, 6);
    }

    [Fact]
    public void The_refusal_that_makes_too_many_within_the_window_is_the_one_that_closes()
    {
        var time = new FakeTimeProvider();
        var options = Options(b =>
        {
            b.RefusalsBeforeClose = 3;
            b.RefusalWindow = 10;
        });
        var budgets = new ConnectionBudgets(options, time);

        Assert.False(budgets.Refused());
        time.Advance(TimeSpan.FromSeconds(9));
        Assert.False(budgets.Refused());
        Assert.True(budgets.Refused());
    }

    [Fact]
    public void Refusals_spread_wider_than_the_window_never_close()
    {
        var time = new FakeTimeProvider();
        var options = Options(b =>
        {
            b.RefusalsBeforeClose = 3;
            b.RefusalWindow = 10;
        });
        var budgets = new ConnectionBudgets(options, time);

        for (var i = 0; i < 20; i++)
        {
            Assert.False(budgets.Refused());
            Assert.False(budgets.Refused());
            // The window began at the first of the two; the next refusal is past it and starts another.
            time.Advance(TimeSpan.FromSeconds(11));
        }
    }

    [Fact]
    public void A_users_budget_is_shared_by_its_connections_and_outlives_them()
    {
        var options = Options(b => b.SyncPerUser = new GatewayOptions.Budget { PerSecond = 0.01, Burst = 3 });
        using var users = new UserBudgets(options);
        var first = new ConnectionBudgets(options, TimeProvider.System);
        var second = new ConnectionBudgets(options, TimeProvider.System);

        Assert.Null(first.TryTake(FrameKind.Sync) ?? users.TryTake(7, FrameKind.Sync));
        Assert.Null(second.TryTake(FrameKind.Sync) ?? users.TryTake(7, FrameKind.Sync));
        Assert.Null(second.TryTake(FrameKind.Sync) ?? users.TryTake(7, FrameKind.Sync));
        // A new connection of the same user (a reconnect) has its own budget left, the user has none.
        var reconnected = new ConnectionBudgets(options, TimeProvider.System);
        var over = reconnected.TryTake(FrameKind.Sync) ?? users.TryTake(7, FrameKind.Sync);

        Assert.Equal("SYNC requests are over budget (3 at once, then one every 100 seconds, for this user across all its connections)", over!.Describe());
        Assert.Null(users.TryTake(8, FrameKind.Sync));
        // Kinds budgeted per connection only are not counted per user.
        Assert.All(Enumerable.Range(0, 100), _ => Assert.Null(users.TryTake(7, FrameKind.KeepAlive)));
    }

    [Fact]
    public void Receipts_are_budgeted_per_user_too_so_reconnecting_buys_no_fresh_burst()
    {
        var options = Options(b =>
        {
            b.Receipts = new GatewayOptions.Budget { PerSecond = 0.01, Burst = 4 };
            b.ReceiptsPerUser = new GatewayOptions.Budget { PerSecond = 0.01, Burst = 6 };
        });
        using var users = new UserBudgets(options);
        var taken = 0;
        // Three connections one after the other (a reconnect loop), each spending its own burst of 4.
        for (var connection = 0; connection < 3; connection++)
        {
            var budgets = new ConnectionBudgets(options, TimeProvider.System);
            taken += Enumerable.Range(0, 4).Count(_ => (budgets.TryTake(FrameKind.Receipt) ?? users.TryTake(7, FrameKind.Receipt)) is null);
        }

        Assert.Equal(6, taken);
        Assert.Null(users.TryTake(8, FrameKind.Receipt));
        Assert.StartsWith("receipts (ARRIVED, READ) are over budget (6 at once", users.TryTake(7, FrameKind.Receipt)!.Describe());
    }

    [Fact]
    public void Handshakes_of_a_user_are_budgeted()
    {
        var options = Options(b => b.HandshakesPerUser = new GatewayOptions.Budget { PerSecond = 0.01, Burst = 2 });
        using var users = new UserBudgets(options);

        Assert.Null(users.TryTake(7, FrameKind.Handshake));
        Assert.Null(users.TryTake(7, FrameKind.Handshake));
        Assert.NotNull(users.TryTake(7, FrameKind.Handshake));
    }

    [Theory]
    [InlineData("Budgets:Sync:PerSecond", "a number of frames per second")]
    [InlineData("Budgets:KeepAlive:Burst", "at least 1")]
    [InlineData("Budgets:RefusalsBeforeClose", "at least 1")]
    [InlineData("MaxConnectionsPerUser", "from 1 to 100000")]
    [InlineData("SendQueueBytes", "at least 65536 bytes")]
    [InlineData("ReplaceSilentAfter", "a positive number of seconds")]
    public void A_budget_setting_that_cannot_work_stops_the_start_naming_its_key(string key, string rule)
    {
        var options = new GatewayOptions();
        switch (key)
        {
            case "Budgets:Sync:PerSecond": options.Budgets.Sync.PerSecond = 0; break;
            case "Budgets:KeepAlive:Burst": options.Budgets.KeepAlive.Burst = 0; break;
            case "Budgets:RefusalsBeforeClose": options.Budgets.RefusalsBeforeClose = 0; break;
            case "MaxConnectionsPerUser": options.MaxConnectionsPerUser = 0; break;
            case "SendQueueBytes": options.SendQueueBytes = 1000; break;
            case "ReplaceSilentAfter": options.ReplaceSilentAfter = 0; break;
        }

        var error = Assert.Throws<StartupException>(options.Validate);
        Assert.StartsWith($"Gateway:{key} must be {rule}", error.Message);
    }
}
