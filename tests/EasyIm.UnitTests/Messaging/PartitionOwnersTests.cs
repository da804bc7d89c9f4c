using EasyIm.Contracts.Messaging;
using EasyIm.Messaging;
using EasyIm.Messaging.Partitions;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace EasyIm.UnitTests.Messaging;

/// <summary>Which messaging process owns each chat partition, and how long another process counts as live.</summary>
public sealed class PartitionOwnersTests
{
    [Theory]
    [InlineData(1, new[] { 8 })]
    [InlineData(2, new[] { 4, 4 })]
    [InlineData(3, new[] { 3, 3, 2 })]
    [InlineData(8, new[] { 1, 1, 1, 1, 1, 1, 1, 1 })]
    [InlineData(9, new[] { 1, 1, 1, 1, 1, 1, 1, 1, 0 })]
    public void The_partitions_spread_evenly_over_the_live_instances(int instances, int[] counts)
    {
        var live = PartitionOwners.Sort(Enumerable.Range(0, instances).Select(i => $"id{i:00}"));

        var owned = live.Select(id => PartitionOwners.OwnedBy(live, id).Count).ToArray();

        Assert.Equal(counts, owned);
        Assert.Equal(ChatPartitions.Count, owned.Sum());
    }

    [Fact]
    public void Every_instance_computes_the_same_owners_whatever_order_it_heard_the_others_in()
    {
        var a = PartitionOwners.Sort(["c", "a", "b", "a"]);
        var b = PartitionOwners.Sort(["b", "c", "a"]);

        Assert.Equal(["a", "b", "c"], a);
        Assert.Equal(Enumerable.Range(0, ChatPartitions.Count).Select(p => PartitionOwners.Owner(a, p)),
            Enumerable.Range(0, ChatPartitions.Count).Select(p => PartitionOwners.Owner(b, p)));
        Assert.Equal([0, 3, 6], PartitionOwners.OwnedBy(a, "a"));
        Assert.Equal([2, 5], PartitionOwners.OwnedBy(a, "c"));
    }

    [Fact]
    public void Bad_arguments_are_refused()
    {
        Assert.Throws<ArgumentException>(() => PartitionOwners.Owner([], 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => PartitionOwners.Owner(["a"], -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => PartitionOwners.Owner(["a"], ChatPartitions.Count));
    }

    [Theory]
    [InlineData("rabbitmq://host/vhost/messaging-chat-3", 3)]
    [InlineData("rabbitmq://host/vhost/messaging-chat-0?singleactiveconsumer=true", 0)]
    [InlineData("queue:messaging-chat-7", 7)]
    public void A_partition_queue_address_names_its_partition(string address, int partition)
    {
        Assert.True(ChatPartitions.TryParse(new Uri(address), out var parsed));
        Assert.Equal(partition, parsed);
    }

    [Theory]
    [InlineData("rabbitmq://host/vhost/messaging-chat-8")]
    [InlineData("rabbitmq://host/vhost/messaging-chat--1")]
    [InlineData("rabbitmq://host/vhost/messaging-chat-")]
    [InlineData("rabbitmq://host/vhost/messaging-chat-x")]
    [InlineData("rabbitmq://host/vhost/record-receipts")]
    public void Other_addresses_name_no_partition(string address)
    {
        Assert.False(ChatPartitions.TryParse(new Uri(address), out _));
    }

    [Fact]
    public void An_instance_is_live_until_it_misses_its_heartbeats_and_live_again_when_heard()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var options = new MessagingOptions { InstanceHeartbeatSeconds = 2, MissedHeartbeats = 3 };
        var membership = new InstanceMembership(options, time, NullLogger<InstanceMembership>.Instance);
        var joined = 0;
        membership.Joined += () => joined++;
        MessagingInstanceHeartbeat Beat(string id, params long[] registrations) => new(id, time.GetUtcNow(), registrations, time.GetUtcNow());

        Assert.True(membership.Heard(Beat("b", 1, 2)));
        Assert.False(membership.Heard(Beat("b", 1, 3)));
        Assert.Equal(1, joined);
        Assert.Equal(["b"], membership.Others());
        Assert.Equal(3, membership.Registration("b", 1));
        Assert.Equal(0, membership.Registration("b", 5)); // not named: never registered
        Assert.Equal(0, membership.Registration("x", 0));

        // Lease: 3 heartbeats of 2 s. Just inside it the instance is live; past it, gone with its registrations.
        time.Advance(TimeSpan.FromSeconds(6));
        Assert.Equal(["b"], membership.Others());
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Empty(membership.Others());
        Assert.Empty(membership.Registrations(0));

        Assert.True(membership.Heard(Beat("b", 4)));
        Assert.Equal(2, joined);
        Assert.Equal(new Dictionary<string, long> { ["b"] = 4 }, membership.Registrations(0));
    }
}
