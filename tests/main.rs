mod audit;
mod chat;
mod commands;
mod engine;
mod normalise;
mod policy;
mod reference;
mod slots;
