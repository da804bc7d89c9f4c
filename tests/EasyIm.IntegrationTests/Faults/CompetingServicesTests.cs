using EasyIm.IntegrationTests.Shapes;

namespace EasyIm.IntegrationTests.Faults;

/// <summary>
/// Two processes of auth and friends (and of messaging) consume the same queues at once: racing duplicate
/// commands, sent through two gateways so that both instances take some, still end as one request and one
/// friendship, guarded by the database's unique keys (see docs/architecture.md, "Several instances").
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class CompetingServicesTests : FaultTestClass
{
    private const int Pairs = 6;
    private const int Duplicates = 4;

    [SkippableFact]
    public async Task Racing_duplicate_invites_and_accepts_on_two_friends_instances_make_one_request_and_one_friendship()
    {
        Skip.If(Infrastructure is null, Missing);
        Cluster = await ProcessCluster.StartAsync(Infrastructure!, gateways: 2, messaging: 2, services: 2);
        var pairs = new List<(TestUser From, TestUser To)>();
        for (var i = 0; i < Pairs; i++)
            pairs.Add((await Cluster.NewUserAsync(), await Cluster.NewUserAsync()));

        // Every pair's invite, Duplicates times at once, half through each gateway.
        var invites = await Task.WhenAll(pairs.SelectMany(p => Enumerable.Range(0, Duplicates).Select(async i =>
            (Pair: p, Reply: await Cluster.PostAsync(i % 2, "/api/user/friend/add", new { to_user_id = p.To.Id.ToString() }, p.From)))));

        foreach (var group in invites.GroupBy(r => r.Pair))
        {
            Assert.Single(group, r => r.Reply.Status == 200);
            Assert.All(group.Where(r => r.Reply.Status != 200), r => Assert.Equal(409, r.Reply.Status));
            var pending = await Cluster.GetAsync(0, "/api/user/friend/requests", group.Key.To);
            Assert.Equal(1, pending.Data.GetProperty("total").GetInt32());
        }

        var requestIds = invites.Where(r => r.Reply.Status == 200).ToDictionary(r => r.Pair, r => r.Reply.Data.GetProperty("id").GetString());
        var accepts = await Task.WhenAll(pairs.SelectMany(p => Enumerable.Range(0, Duplicates).Select(async i =>
            (Pair: p, Reply: await Cluster.PostAsync(i % 2, "/api/user/friend/accept", new { id = requestIds[p] }, p.To)))));

        foreach (var group in accepts.GroupBy(r => r.Pair))
        {
            // The first accept wins; a racing twin is answered 409 (already accepted), or 200 when it was the same command redelivered.
            Assert.Contains(group, r => r.Reply.Status == 200);
            Assert.All(group, r => Assert.Contains(r.Reply.Status, new[] { 200, 409 }));
            foreach (var (user, friend) in new[] { (group.Key.From, group.Key.To), (group.Key.To, group.Key.From) })
            {
                var friends = await Cluster.GetAsync(1, "/api/user/friends", user);
                var ids = friends.Data.GetProperty("items").EnumerateArray().Select(f => f.GetProperty("id").GetString()).ToList();
                Assert.Equal([friend.Id.ToString()], ids);
            }
        }
    }
}
