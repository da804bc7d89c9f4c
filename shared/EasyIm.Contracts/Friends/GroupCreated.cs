namespace EasyIm.Contracts.Friends;

public sealed record GroupCreated(long GroupId);
