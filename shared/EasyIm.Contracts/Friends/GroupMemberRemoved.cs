namespace EasyIm.Contracts.Friends;

/// <summary>Published for each member who leaves; a dismissed group removes its last member.</summary>
public sealed record GroupMemberRemoved(long GroupId, long UserId, DateTimeOffset At);
